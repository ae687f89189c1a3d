import ArgumentParser
import Glibc

/// `concord-bench presence`: K users enter presence (memory per member), then leave and re-enter
/// N times in all (CPU per operation), optionally watched by W connections.
struct PresenceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "presence",
        abstract: "Measure presence: memory per member, then join/leave churn against a server run with --dev.")

    @Option(help: "Server address (IPv4).") var host = "127.0.0.1"
    @Option(help: "Server port.") var port: Int
    @Option(name: .customLong("user-port"), help: "A node's port; repeat for several nodes: users spread over them round robin (default --port).")
    var userPorts: [Int] = []
    @Option(name: .customLong("watcher-port"), help: "A node's port for watchers; repeatable (default: the users' ports).") var watcherPorts: [Int] = []
    @Option(name: .customLong("node-pid"), help: "A node's process; repeatable: each node's CPU per churn operation.") var nodePIDs: [Int32] = []
    @Option(name: .customLong("redis-pid"), help: "The redis-server the nodes share: its CPU per churn operation.") var redisPID: Int32?
    @Option(
        name: .customLong("kill-pid"),
        help: "Instead of the churn: kill -9 this node once everyone has entered, and time until the watchers have seen every member leave.")
    var killPID: Int32?
    @Option(help: "Connections that enter presence, each as its own user (u0, u1, ...).") var connections = 2000
    @Option(help: "Connections that watch the presence of every channel.") var watchers = 0
    @Option(help: "Channels the members are spread over.") var channels = 200
    @Option(name: .customLong("channels-per-connection"), help: "Channels each connection is present in.") var channelsPerConnection = 1
    @Option(help: "Churn operations (leaves plus enters) over all connections.") var ops = 100_000
    @Option(help: "Commands in flight per connection during the churn.") var window = 8
    @Option(name: .customLong("channel-prefix"), help: "Channels are PREFIX0, PREFIX1, ...") var channelPrefix = "presence/bench/"
    @Flag(
        help:
            "A typing storm: typing.start and typing.stop (with ids) instead of presence.enter and leave, and watchers of typing; run the server with raised --typing-rate, --typing-burst and --typing-ttl."
    ) var typing = false
    @Option(name: .customLong("server-pid"), help: "Server process, for CPU and memory figures from /proc.") var serverPID: Int32?
    @Option(name: .customLong("connect-concurrency"), help: "Connections being opened at once.") var connectConcurrency = 256
    @Option(help: "Seconds allowed for each phase.") var timeout = 60
    @Flag(help: "Also print the figures as one JSON object line.") var json = false

    func validate() throws {
        guard connections > 0, channels > 0, channelsPerConnection > 0, ops > 0, window > 0, connectConcurrency > 0, timeout > 0 else {
            throw ValidationError("--connections, --channels, --channels-per-connection, --ops, --window, --connect-concurrency and --timeout must be positive")
        }
        guard watchers >= 0 else { throw ValidationError("--watchers must not be negative") }
        guard killPID == nil || watchers > 0 else { throw ValidationError("--kill-pid needs --watchers on another node to see the leaves") }
        guard channelsPerConnection <= channels else {
            throw ValidationError("--channels-per-connection cannot exceed --channels: a connection enters each channel once")
        }
    }

    func run() throws {
        let limit = ProcStats.raiseOpenFileLimit()
        if limit > 0 && limit < connections + watchers + 16 {
            throw ValidationError("open-file limit \(limit) is too low for \(connections + watchers) connections (raise the hard limit)")
        }
        let plan = PresencePlan(
            host: host, port: port, userPorts: userPorts, watcherPorts: watcherPorts, nodePIDs: nodePIDs, redisPID: redisPID, killPID: killPID,
            connections: connections, watchers: watchers, channels: channels,
            channelsPerConnection: channelsPerConnection, ops: ops, window: window, channelPrefix: channelPrefix, typing: typing,
            serverPID: serverPID, connectConcurrency: connectConcurrency, timeoutSeconds: timeout)
        let run = try PresenceRun(plan: plan)
        let report = run.run()
        print(report.text)
        if json { print(report.json) }
        fflush(stdout)
        if run.abortReason != nil { throw ExitCode(2) }
        if report.errors.total > 0 || report.timedOut { throw ExitCode(1) }
    }
}
