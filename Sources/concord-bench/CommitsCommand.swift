import ArgumentParser
import ConcordUV
import Glibc
import Histogram

/// `concord-bench commits`: durable (or in-memory) commits over HTTP, as backends make them.
struct CommitsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "commits",
        abstract: "Measure commits per second and commit latency over POST /v1/records/commit.")

    @Option(help: "Server address (IPv4).") var host = "127.0.0.1"
    @Option(help: "Server port.") var port: Int
    @Option(help: "Keep-alive connections, each with one commit in flight.") var connections = 64
    @Option(help: "Commits in all.") var commits = 20_000
    @Option(help: "Records each connection writes to, in turn (with no --stored records).") var recordsPerConnection = 4
    @Option(help: "Synthetic records already in the server's store (concord-bench populate --count N): commits go to them.") var stored = 0
    @Option(help: "With --stored: 'uniform' spreads commits over every stored record (each a likely cache miss); 'hot' over the last --hot-set created.")
    var spread = "uniform"
    @Option(help: "Records in the hot set (--spread hot).") var hotSet = 10_000
    @Option(name: .customLong("api-key"), help: "Bearer key for the records API.") var apiKey = "bench-key"
    @Option(name: .customLong("server-pid"), help: "Server process, for CPU figures from /proc.") var serverPID: Int32?
    @Option(help: "Label printed with the figures (e.g. durable, memory).") var label = "commits"
    @Option(help: "Seconds allowed for the run.") var timeout = 120
    @Flag(help: "Also print the figures as one JSON object line.") var json = false

    func validate() throws {
        guard connections > 0, commits > 0, recordsPerConnection > 0, timeout > 0 else {
            throw ValidationError("--connections, --commits, --records-per-connection and --timeout must be positive")
        }
        guard stored >= 0, hotSet > 0, spread == "uniform" || spread == "hot" else {
            throw ValidationError("--stored must not be negative, --hot-set must be positive, --spread is uniform or hot")
        }
        guard stored == 0 || stored >= connections else { throw ValidationError("--stored must be at least --connections") }
    }

    func run() throws {
        let loop = try EventLoop()
        let run = CommitRun(command: self, loop: loop)
        try run.start()
        loop.run()
        loop.close()
        print(run.report())
        if json { print(run.jsonReport()) }
        fflush(stdout)
        if run.failure != nil || run.conflicts > 0 { throw ExitCode(1) }
    }
}

/// One run: each connection commits to its own records, on the exact version it last wrote (over
/// the stored version, for stored records), so every commit should be accepted and the figures
/// measure the check plus the write, not conflicts.
final class CommitRun {
    let command: CommitsCommand
    let loop: EventLoop
    private var clients: [CommitClient] = []
    private(set) var sent = 0
    private(set) var accepted = 0
    private(set) var conflicts = 0
    private(set) var failure: String?
    private var latency = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
    private var startedAt: UInt64 = 0
    private var finishedAt: UInt64 = 0
    private var cpuBefore: Double?
    private var cpuAfter: Double?
    private var timer: LoopTimer?
    /// Tells this run's actors, fields and fresh records from those of earlier runs on the same store.
    let nonce = String(UInt32(truncatingIfNeeded: MonotonicClock.nanoseconds() ^ UInt64(getpid())), radix: 36)

    init(command: CommitsCommand, loop: EventLoop) {
        self.command = command
        self.loop = loop
    }

    func start() throws {
        let timer = try LoopTimer(loop: loop)
        timer.start(afterMilliseconds: UInt64(command.timeout) * 1000) { [unowned self] in self.finish("timed out") }
        self.timer = timer
        var connected = 0
        for i in 0..<command.connections {
            let client = CommitClient(run: self, index: i)
            clients.append(client)
            client.connect { [unowned self] error in
                if let error { return self.finish(error) }
                connected += 1
                if connected == self.command.connections { self.begin() }
            }
        }
    }

    private func begin() {
        cpuBefore = command.serverPID.flatMap(ProcStats.cpuSeconds)
        startedAt = MonotonicClock.nanoseconds()
        for client in clients { client.sendNext() }
    }

    /// Hands out the next commit, or nil when all have been sent.
    func takeCommit() -> Bool {
        guard sent < command.commits, failure == nil else { return false }
        sent += 1
        return true
    }

    func answered(status: Int, after nanoseconds: UInt64) {
        latency.record(nanoseconds / 1000)
        if status == 200 { accepted += 1 } else if status == 409 { conflicts += 1 } else { return finish("commit answered \(status)") }
        if accepted + conflicts == command.commits { finish(nil) }
    }

    func finish(_ error: String?) {
        guard finishedAt == 0 else { return }
        finishedAt = MonotonicClock.nanoseconds()
        cpuAfter = command.serverPID.flatMap(ProcStats.cpuSeconds)
        failure = error
        timer?.close()
        for client in clients { client.close() }
    }

    /// How many stored records commits are spread over: all of them, or the hot set.
    var storedRange: Int {
        command.spread == "hot" ? min(command.hotSet, command.stored) : command.stored
    }

    /// The first record of the range: the hot set is the most recently created records, the ones
    /// an app's users edit most (in key order they are neighbours, as they would be in the app's).
    var storedBase: Int { command.stored - storedRange }

    private var seconds: Double { Double(finishedAt - startedAt) / 1e9 }
    private var perCommitCPU: Double? {
        guard let before = cpuBefore, let after = cpuAfter, accepted > 0 else { return nil }
        return (after - before) / Double(accepted) * 1e6
    }

    private func ms(_ percentile: Double) -> Double { Double(latency.valueAtPercentile(percentile)) / 1000 }

    func report() -> String {
        let target =
            command.stored == 0
            ? "\(command.recordsPerConnection * command.connections) fresh records"
            : "\(storedRange) of \(command.stored) stored records (\(command.spread))"
        var lines = ["\(command.label): \(accepted) accepted, \(conflicts) conflicts over \(command.connections) connections, on \(target)"]
        if let failure { lines.append("FAILED: \(failure)") }
        lines.append(
            String(
                format: "  %.0f commits/s, latency p50 %.2f ms, p99 %.2f ms, max %.2f ms",
                Double(accepted) / seconds, ms(50), ms(99), Double(latency.max) / 1000))
        if let cpu = perCommitCPU { lines.append(String(format: "  server CPU %.1f µs per commit", cpu)) }
        return lines.joined(separator: "\n")
    }

    func jsonReport() -> String {
        let cpu = perCommitCPU.map { String(format: "%.2f", $0) } ?? "null"
        return String(
            format:
                #"{"label":"%@","stored":%d,"spread":"%@","accepted":%d,"conflicts":%d,"commitsPerSecond":%.0f,"p50Ms":%.3f,"p99Ms":%.3f,"serverCpuMicrosecondsPerCommit":%@}"#,
            command.label, command.stored, command.stored == 0 ? "fresh" : command.spread, accepted, conflicts, Double(accepted) / seconds, ms(50), ms(99), cpu)
    }
}
