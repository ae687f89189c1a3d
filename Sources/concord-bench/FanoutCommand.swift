import ArgumentParser
import Glibc

/// `concord-bench fanout`: N WebSocket subscribers on one channel (or spread over several), M events
/// published over HTTP, to Concord, to nginx + nchan or to the libuv floor; or, with no events, N idle
/// subscribers.
struct FanoutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fanout",
        abstract: "Measure fan-out: one channel, many subscribers, events published over HTTP.",
        discussion: """
            --server picks what the subscribers and the publisher say: concord (/v1/ws, subscribe command, \
            POST /v1/publish), nchan (bench/nchan.conf: WebSocket on /sub/CHANNEL, POST /pub/CHANNEL) or floor \
            (bench/floor.c, on the same paths). With --channels C, subscriber i joins channel i mod C and event \
            seq goes to channel seq mod C. With --events 0 nothing is published: the subscribers stay idle for \
            --idle-seconds, and the server's RSS is read after that. Over several nodes, --subscriber-port (repeated) \
            spreads the subscribers round robin over the nodes while events go to --port, --node-pid (in the same \
            order) reports each node's CPU per delivery to its own subscribers, and --redis-pid the CPU Redis spends \
            per event. With --listen-only another generator publishes to the same channel: this one prints \
            'listening: N subscribed' when ready and waits for --events events.
            """)

    @Option(help: "Server kind: concord, nchan or floor.") var server = ServerKind.concord

    @Option(help: "Server address (IPv4).") var host = "127.0.0.1"
    @Option(help: "Server port: where events are published, and subscribers connect unless --subscriber-port is given.") var port: Int
    @Option(name: .customLong("subscriber-port"), help: "A node's port; repeat for several nodes: subscribers spread over them round robin.")
    var subscriberPorts: [Int] = []
    @Option(name: .customLong("node-pid"), help: "A node's process, in the order of --subscriber-port: CPU per delivery and memory of each node.")
    var nodePIDs: [Int32] = []
    @Option(name: .customLong("redis-pid"), help: "The redis-server the nodes share: its CPU per published event.") var redisPID: Int32?
    @Flag(name: .customLong("listen-only"), help: "Publish nothing: wait for --events events published by another generator.") var listenOnly = false
    @Option(help: "WebSocket subscribers, spread round robin over --channels.") var subscribers = 1000
    @Option(help: "Channels; events go to them round robin.") var channels = 1
    @Option(help: "Events to publish; 0 for an idle run.") var events = 200
    @Option(name: .customLong("idle-seconds"), help: "With --events 0: how long the subscribers stay idle before the server's memory is read.")
    var idleSeconds = 5.0
    @Option(name: .customLong("payload-bytes"), help: "Approximate size of each published event body.") var payloadBytes = 200
    @Option(help: "Events per second; 0 publishes as fast as deliveries complete, bounded by --window.") var rate = 0.0
    @Option(help: "With --rate 0: events allowed in flight before every subscriber has them.") var window = 4
    @Option(name: .customLong("api-key"), help: "Bearer key for the publish endpoint.") var apiKey = "bench-key"
    @Option(help: "Concord's channel, or with --channels over 1 the prefix of CHANNEL/0, CHANNEL/1, ... (nchan and the floor use 0, 1, ...).") var channel =
        "bench/fanout"
    @Option(name: .customLong("publish-url-path"), help: "Path of Concord's publish endpoint.") var publishURLPath = "/v1/publish"
    @Option(name: .customLong("server-pid"), help: "Server process, for CPU and memory figures from /proc.") var serverPID: Int32?
    @Option(name: .customLong("connect-concurrency"), help: "Connections being opened at once.") var connectConcurrency = 256
    @Option(help: "Seconds allowed for setup, and again for the publish phase.") var timeout = 60
    @Flag(help: "Also print the figures as one JSON object line.") var json = false

    func validate() throws {
        guard subscribers > 0, channels > 0, window > 0, connectConcurrency > 0, timeout > 0 else {
            throw ValidationError("--subscribers, --channels, --window, --connect-concurrency and --timeout must be positive")
        }
        guard rate >= 0, payloadBytes >= 0, events >= 0, idleSeconds >= 0 else {
            throw ValidationError("--rate, --payload-bytes, --events and --idle-seconds must not be negative")
        }
        guard nodePIDs.isEmpty || nodePIDs.count == max(1, subscriberPorts.count) else {
            throw ValidationError("give one --node-pid per --subscriber-port (or one for --port)")
        }
        guard !listenOnly || events > 0 else { throw ValidationError("--listen-only waits for --events events: give a positive count") }
        guard channels <= subscribers else { throw ValidationError("--channels cannot exceed --subscribers: every channel needs a subscriber") }
    }

    func run() throws {
        let limit = ProcStats.raiseOpenFileLimit()
        if limit > 0 && limit < subscribers + 16 {
            throw ValidationError("open-file limit \(limit) is too low for \(subscribers) subscribers (raise the hard limit)")
        }
        let plan = FanoutPlan(
            server: server, host: host, port: port, subscriberPorts: subscriberPorts, nodePIDs: nodePIDs, redisPID: redisPID,
            listenOnly: listenOnly, subscribers: subscribers, channels: channels, events: events,
            idleSeconds: idleSeconds, payloadBytes: payloadBytes,
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
