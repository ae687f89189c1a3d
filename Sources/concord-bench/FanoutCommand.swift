import ArgumentParser
import Glibc

/// `concord-bench fanout`: N WebSocket subscribers on one channel, M events published over HTTP.
struct FanoutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fanout",
        abstract: "Measure fan-out: one channel, many subscribers, events published over HTTP.")

    @Option(help: "Server address (IPv4).") var host = "127.0.0.1"
    @Option(help: "Server port.") var port: Int
    @Option(help: "WebSocket subscribers, all on one channel.") var subscribers = 1000
    @Option(help: "Events to publish.") var events = 200
    @Option(name: .customLong("payload-bytes"), help: "Approximate size of each published event body.") var payloadBytes = 200
    @Option(help: "Events per second; 0 publishes as fast as deliveries complete, bounded by --window.") var rate = 0.0
    @Option(help: "With --rate 0: events allowed in flight before every subscriber has them.") var window = 4
    @Option(name: .customLong("api-key"), help: "Bearer key for the publish endpoint.") var apiKey = "bench-key"
    @Option(help: "Channel every subscriber joins.") var channel = "bench/fanout"
    @Option(name: .customLong("publish-url-path"), help: "Path of the publish endpoint.") var publishURLPath = "/v1/publish"
    @Option(name: .customLong("server-pid"), help: "Server process, for CPU and memory figures from /proc.") var serverPID: Int32?
    @Option(name: .customLong("connect-concurrency"), help: "Connections being opened at once.") var connectConcurrency = 256
    @Option(help: "Seconds allowed for setup, and again for the publish phase.") var timeout = 60
    @Flag(help: "Also print the figures as one JSON object line.") var json = false

    func validate() throws {
        guard subscribers > 0, events > 0, window > 0, connectConcurrency > 0, timeout > 0 else {
            throw ValidationError("--subscribers, --events, --window, --connect-concurrency and --timeout must be positive")
        }
        guard rate >= 0, payloadBytes >= 0 else { throw ValidationError("--rate and --payload-bytes must not be negative") }
    }

    func run() throws {
        let limit = ProcStats.raiseOpenFileLimit()
        if limit > 0 && limit < subscribers + 16 {
            throw ValidationError("open-file limit \(limit) is too low for \(subscribers) subscribers (raise the hard limit)")
        }
        let plan = FanoutPlan(
            host: host, port: port, subscribers: subscribers, events: events, payloadBytes: payloadBytes,
            rate: rate, window: window, apiKey: apiKey, channel: channel, publishPath: publishURLPath,
            serverPID: serverPID, connectConcurrency: connectConcurrency, timeoutSeconds: timeout)
        let run = try FanoutRun(plan: plan)
        let report = run.run()
        print(report.text)
        if json { print(report.json) }
        fflush(stdout)
        if run.abortReason != nil { throw ExitCode(2) }
        if report.errors.total > 0 || report.timedOut { throw ExitCode(1) }
    }
}
