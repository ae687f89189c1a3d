/// Times one `ExpirySubject` holding `entries` deadlines: ticks where nothing is due, ticks where
/// exactly `expiring` entries are due, and TTL refreshes.
///
/// The deadlines are distinct integers in random insertion order. A heap's cost depends only on
/// their order, so their spacing (1 ms here) does not matter. Live deadlines always form one window
/// [low, low + entries): a tick expires its first `expiring` values and they are re-inserted at the
/// far end, so the queue keeps its size and every tick finds the same work.
struct ExpiryBenchmark<Subject: ExpirySubject> {
    let entries: Int
    let expiring: Int
    let idleTicks: Int
    let expiringTicks: Int
    let refreshes: Int
    /// Refreshes timed together; the slowest batch shows the pause of a heap rebuild.
    static var refreshBatch: Int { 1000 }

    func run() -> ExpiryResult {
        var subject = Subject(capacity: entries)
        // owner[d % entries] is the entry whose deadline is d, for every live d.
        var owner = Array(0..<entries)
        owner.shuffle()
        for deadline in 0..<entries { subject.insert(owner[deadline], deadline: Int64(deadline)) }
        var result = ExpiryResult(structure: Subject.name, entries: entries, expiring: expiring)
        var low: Int64 = 0

        // (a) Nothing due: `now` is just before the earliest deadline.
        for _ in 0..<min(idleTicks, 1000) { result.wrongCounts += subject.tick(now: low - 1) }
        let idleStart = MonotonicClock.nanoseconds()
        for _ in 0..<idleTicks { result.wrongCounts += subject.tick(now: low - 1) }
        result.idleTickNanoseconds = Double(MonotonicClock.nanoseconds() - idleStart) / Double(idleTicks)

        // (b) Exactly `expiring` due per tick; re-inserting them is not timed.
        var expiringNanoseconds: UInt64 = 0
        let warmUp = 5
        for tick in 0..<(warmUp + expiringTicks) {
            let now = low + Int64(expiring) - 1
            let start = MonotonicClock.nanoseconds()
            let expired = subject.tick(now: now)
            let elapsed = MonotonicClock.nanoseconds() - start
            if tick >= warmUp { expiringNanoseconds += elapsed }
            if expired != expiring { result.wrongCounts += 1 }
            for deadline in low..<low + Int64(expiring) {
                subject.insert(owner[Int(deadline % Int64(entries))], deadline: deadline + Int64(entries))
            }
            low += Int64(expiring)
        }
        result.expiringTickNanoseconds = Double(expiringNanoseconds) / Double(expiringTicks)

        // (c) Refreshes: random live entries move past every other deadline, as a renewed TTL does.
        // A fixed linear congruential sequence: reproducible, and millions of draws without a
        // getrandom(2) call each, which made the untimed setup slower than the timed part.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let targets = (0..<refreshes).map { _ -> Int in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(entries))
        }
        var next = low + Int64(entries)
        var refreshNanoseconds: UInt64 = 0
        var slowestBatch: UInt64 = 0
        var index = 0
        while index < refreshes {
            let end = min(refreshes, index + Self.refreshBatch)
            let start = MonotonicClock.nanoseconds()
            while index < end {
                subject.refresh(targets[index], deadline: next)
                next += 1
                index += 1
            }
            let elapsed = MonotonicClock.nanoseconds() - start
            refreshNanoseconds += elapsed
            slowestBatch = max(slowestBatch, elapsed)
        }
        result.refreshNanoseconds = Double(refreshNanoseconds) / Double(max(1, refreshes))
        result.slowestRefreshBatchNanoseconds = Double(slowestBatch)
        return result
    }
}
