import ArgumentParser
import Glibc

/// `concord-bench expiry`: an in-process micro-benchmark of the deadline structures (no server),
/// showing that a tick costs nothing when nothing is due and grows with log(n) when something is.
struct ExpiryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "expiry",
        abstract: "Time ExpiryQueue ticks and refreshes, and the registries' expire(now:), at several sizes.")

    @Option(help: "Live entries in the bare ExpiryQueue, comma separated.") var sizes = "10000,100000,1000000"
    @Option(name: .customLong("registry-sizes"), help: "Live entries in TypingRegistry and PresenceRegistry, comma separated (empty: skip them).")
    var registrySizes = "10000,100000"
    @Option(help: "Entries due in each expiring tick.") var expiring = 1000
    @Option(name: .customLong("idle-ticks"), help: "Ticks with nothing due, timed together.") var idleTicks = 1_000_000
    @Option(name: .customLong("expiring-ticks"), help: "Ticks with --expiring entries due, each timed.") var expiringTicks = 100
    @Option(help: "Refreshes per size, at least this many and at least 3 x the size, so heap rebuilds are included.")
    var refreshes = 100_000
    @Flag(help: "Also print one JSON object line per row.") var json = false

    func validate() throws {
        guard parse(sizes) != nil, parse(registrySizes) != nil else {
            throw ValidationError("--sizes and --registry-sizes are comma-separated positive integers")
        }
        guard expiring > 0, idleTicks > 0, expiringTicks > 0, refreshes > 0 else {
            throw ValidationError("--expiring, --idle-ticks, --expiring-ticks and --refreshes must be positive")
        }
        guard (parse(sizes)! + parse(registrySizes)!).allSatisfy({ $0 >= expiring }) else {
            throw ValidationError("every size must be at least --expiring")
        }
    }

    func run() throws {
        var results: [ExpiryResult] = []
        for size in parse(sizes)! { results.append(measure(ExpiryQueueSubject.self, size)) }
        for size in parse(registrySizes)! { results.append(measure(TypingExpirySubject.self, size)) }
        for size in parse(registrySizes)! { results.append(measure(PresenceExpirySubject.self, size)) }
        print(ExpiryResult.table(results, expiring: expiring))
        if json { for result in results { print(result.json) } }
        fflush(stdout)
        if results.contains(where: { $0.wrongCounts > 0 }) { throw ExitCode(1) }
    }

    private func measure<Subject: ExpirySubject>(_ subject: Subject.Type, _ size: Int) -> ExpiryResult {
        let benchmark = ExpiryBenchmark<Subject>(
            entries: size, expiring: expiring, idleTicks: idleTicks, expiringTicks: expiringTicks,
            refreshes: max(refreshes, 3 * size))
        let start = PhaseCPU.Start(serverPID: nil), began = MonotonicClock.nanoseconds()
        var result = benchmark.run()
        let cpu = PhaseCPU(since: start, wallSeconds: Double(MonotonicClock.nanoseconds() - began) / 1e9)
        result.otherCPUSeconds = cpu.machineBusySeconds.map { max(0, $0 - cpu.generatorSeconds) }
        // Progress on stderr: a million-entry fill takes a moment.
        fputs("\(Subject.name) \(size): done\n", stderr)
        return result
    }

    private func parse(_ list: String) -> [Int]? {
        if list.isEmpty { return [] }
        let values = list.split(separator: ",").map { Int($0) }
        guard values.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
        return values.map { $0! }
    }
}
