import ArgumentParser
import ConcordAuth
import ConcordCore
import ConcordServer
import Foundation
import Logging

/// Options shared by every way of running the server.
struct ListenOptions: ParsableArguments {
    @Option(help: "Address to listen on (env CONCORD_HOST).")
    var host: String?

    @Option(help: "Port to listen on; 0 picks a free one (env CONCORD_PORT).")
    var port: Int?

    @Option(help: "Log level: trace, debug, info, notice, warning, error (env CONCORD_LOG_LEVEL).")
    var logLevel: String?
}

/// `concord serve`: the options, read into a `ServerConfiguration`, and the server run with it.
public struct Serve: ParsableCommand {
    public static let configuration = CommandConfiguration(abstract: "Run Concord (the default command).")

    @Option(
        name: .customLong("config"),
        help: ArgumentHelp(
            "TOML file of settings, each key named after its flag, e.g. max-queue-bytes = 1048576; flags and CONCORD_* variables win over it (env CONCORD_CONFIG).",
            valueName: "file"))
    var configFile: String?

    @OptionGroup var listen: ListenOptions

    @Option(name: .customLong("api-key"), help: "API key backends send as 'Authorization: Bearer KEY'; repeatable (env CONCORD_API_KEYS, comma separated).")
    var apiKeys: [String] = []

    @Option(
        name: .customLong("client-publish"),
        help: "Channel pattern where WebSocket clients may publish, e.g. 'chat/*'; repeatable (env CONCORD_CLIENT_PUBLISH). Default: nowhere.")
    var clientPublish: [String] = []

    @Flag(help: "Development mode: '?user=' names the user, no tokens, loopback only. Never in production (env CONCORD_DEV=1).")
    var dev = false

    @Flag(inversion: .prefixedNo, help: "Serve the demo app at /demo (default: on with --dev, off otherwise; env CONCORD_DEMO=1).")
    var demo: Bool?

    @OptionGroup(title: "Authentication") var auth: AuthOptions

    @OptionGroup(title: "Limits") var limits: LimitOptions

    @OptionGroup(title: "History and recovery") var history: HistoryOptions

    @OptionGroup(title: "Several nodes") var scaleOut: RedisOptions

    @Option(help: "Directory of the durable record store (env CONCORD_DATA_DIR).")
    var dataDir: String?

    @Flag(help: "Keep records in memory only: nothing survives a restart (env CONCORD_MEMORY=1).")
    var memory = false

    @Option(help: "Records kept in memory; others are read from the store when used (env CONCORD_RECORD_CACHE). Default 50000.")
    var recordCache: Int?

    @Option(help: "Actors a record's version vector keeps before the oldest fold (env CONCORD_MAX_RECORD_ACTORS).")
    var maxRecordActors: Int?

    @Option(help: "Members listed in a presence snapshot (env CONCORD_MAX_PRESENCE_MEMBERS).")
    var maxPresenceMembers: Int?

    @Option(help: "Milliseconds a typing signal lasts unless refreshed (env CONCORD_TYPING_TTL).")
    var typingTtl: UInt64?

    @Option(help: "Milliseconds of silence before the server pings a connection (env CONCORD_PING_INTERVAL).")
    var pingInterval: UInt64?

    @Option(help: "Milliseconds of silence after which a connection is dropped (env CONCORD_IDLE_TIMEOUT).")
    var idleTimeout: UInt64?

    public init() {}

    public func run() throws {
        let settings = try Settings(environment: ProcessInfo.processInfo.environment, configFile: configFile)
        let config = try configuration(settings)
        let logger = bootstrapLogging(logLevel(settings))
        try runServer(config, logger: logger)
    }

    /// The server's settings from the flags, then `settings` (the environment, then the file), then the defaults.
    func configuration(_ settings: Settings) throws -> ServerConfiguration {
        var config = ServerConfiguration()
        config.host = listen.host ?? settings.string("CONCORD_HOST") ?? config.host
        config.port = try listen.port ?? settings.int("CONCORD_PORT") ?? config.port
        config.apiKeys = apiKeys.isEmpty ? settings.list("CONCORD_API_KEYS") : apiKeys
        config.clientPublish = (clientPublish.isEmpty ? settings.list("CONCORD_CLIENT_PUBLISH") : clientPublish).map(ChannelPattern.init)
        config.developmentMode = dev || settings.flag("CONCORD_DEV")
        config.demo = demo ?? settings.bool("CONCORD_DEMO")
        try limits.apply(to: &config, settings: settings)
        try history.apply(to: &config, settings: settings)
        try scaleOut.apply(to: &config, settings: settings)
        config.pingIntervalMilliseconds = try pingInterval ?? settings.int("CONCORD_PING_INTERVAL").map(UInt64.init) ?? config.pingIntervalMilliseconds
        config.idleTimeoutMilliseconds = try idleTimeout ?? settings.int("CONCORD_IDLE_TIMEOUT").map(UInt64.init) ?? config.idleTimeoutMilliseconds
        config.maxPresenceMembers = try maxPresenceMembers ?? settings.int("CONCORD_MAX_PRESENCE_MEMBERS") ?? config.maxPresenceMembers
        config.typingTTLMilliseconds = try typingTtl ?? settings.int("CONCORD_TYPING_TTL").map(UInt64.init) ?? config.typingTTLMilliseconds
        config.maxRecordActors = try maxRecordActors ?? settings.int("CONCORD_MAX_RECORD_ACTORS") ?? config.maxRecordActors
        config.recordCacheSize = try recordCache ?? settings.int("CONCORD_RECORD_CACHE") ?? config.recordCacheSize
        if memory || settings.flag("CONCORD_MEMORY") {
            config.dataDirectory = nil
        } else {
            config.dataDirectory = dataDir ?? settings.string("CONCORD_DATA_DIR") ?? config.dataDirectory
        }
        try auth.apply(to: &config, settings: settings)
        try settings.validate(config)
        return config
    }

    func logLevel(_ settings: Settings) -> String? {
        listen.logLevel ?? settings.string("CONCORD_LOG_LEVEL")
    }
}

/// `concord echo`: the RFC 6455 conformance suite's peer.
public struct Echo: ParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Echo every WebSocket message on any path: only for the RFC 6455 conformance suite.")

    @OptionGroup var listen: ListenOptions

    public init() {}

    public func run() throws {
        var config = ServerConfiguration()
        config.echoOnly = true
        config.host = listen.host ?? config.host
        config.port = listen.port ?? 9001
        config.maxQueueBytes = 256 << 20
        let logger = bootstrapLogging(listen.logLevel)
        try runServer(config, logger: logger)
    }
}
