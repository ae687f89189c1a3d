import ConcordUV

/// One loop timer for every deadline of the server: each source (connection liveness, token
/// lifetimes, presence and typing TTLs) keeps its own ordered queue and says when it is next due;
/// the scheduler arms the timer at the earliest, once per loop turn however many changes the turn
/// made, and runs every source at the tick. A tick costs time only for what comes due.
final class DeadlineScheduler {
    private struct Source {
        var next: () -> Int64?
        var due: (Int64) -> Void
    }

    private unowned let loop: EventLoop
    private let clock: any ServerClock
    private var sources: [Source] = []
    private var timer: LoopTimer?
    private var armed: Int64?
    private var armPending = false

    init(loop: EventLoop, clock: any ServerClock) {
        self.loop = loop
        self.clock = clock
    }

    /// Adds a source: `next` is its earliest deadline (the loop's milliseconds), `due` runs at every
    /// tick with the time now.
    func add(next: @escaping () -> Int64?, due: @escaping (Int64) -> Void) {
        sources.append(Source(next: next, due: due))
    }

    /// Starts timing; before this (and after `stop`) nothing is armed.
    func start() throws {
        timer = try LoopTimer(loop: loop)
    }

    func stop() {
        timer?.close()
        timer = nil
    }

    /// Re-arms the timer at the end of this loop turn: call after any deadline may have moved.
    func arm() {
        guard !armPending else { return }
        armPending = true
        loop.atTurnEnd { [unowned self] in
            armPending = false
            armNow()
        }
    }

    private func armNow() {
        guard let timer else { return }
        let next = sources.compactMap { $0.next() }.min()
        guard next != armed else { return }
        armed = next
        guard let next else { return timer.stop() }
        timer.start(afterMilliseconds: UInt64(max(0, next - clock.monotonicMilliseconds()))) { [unowned self] in tick() }
    }

    /// Runs every source now, whatever is armed (a test that moved its clock calls this).
    func tickNow() {
        tick()
    }

    private func tick() {
        armed = nil
        let now = clock.monotonicMilliseconds()
        for source in sources { source.due(now) }
        arm()
    }
}
