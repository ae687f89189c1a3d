import ArgumentParser
import ConcordAuth
import ConcordCore
import ConcordServer
import Foundation
import Logging

/// `concord`: the realtime presence and conflict server.
@main
struct Concord: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Realtime presence, typing and conflict service for collaborative web apps.",
        version: "concord \(ConcordServer.version) (commit \(ConcordServer.commit))",
        subcommands: [Serve.self, Echo.self],
        defaultSubcommand: Serve.self)
}

/// Options shared by every way of running the server.
struct ListenOptions: ParsableArguments {
    @Option(help: "Address to listen on (env CONCORD_HOST).")
    var host: String?

    @Option(help: "Port to listen on; 0 picks a free one (env CONCORD_PORT).")
    var port: Int?

    @Option(help: "Log level: trace, debug, info, notice, warning, error (env CONCORD_LOG_LEVEL).")
    var logLevel: String?
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run Concord (the default command).")

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

    func run() throws {
        let settings = Settings(environment: ProcessInfo.processInfo.environment)
        var config = ServerConfiguration()
        config.host = listen.host ?? settings.string("CONCORD_HOST") ?? config.host
        config.port = try listen.port ?? settings.int("CONCORD_PORT") ?? config.port
        config.apiKeys = apiKeys.isEmpty ? settings.list("CONCORD_API_KEYS") : apiKeys
        config.clientPublish = (clientPublish.isEmpty ? settings.list("CONCORD_CLIENT_PUBLISH") : clientPublish).map(ChannelPattern.init)
        config.developmentMode = dev || settings.flag("CONCORD_DEV")
        config.demo = demo ?? (settings.string("CONCORD_DEMO") == nil ? nil : settings.flag("CONCORD_DEMO"))
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
        let logger = bootstrapLogging(listen.logLevel ?? settings.string("CONCORD_LOG_LEVEL"))
        try runServer(config, logger: logger)
    }
}

struct Echo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Echo every WebSocket message on any path: only for the RFC 6455 conformance suite.")

    @OptionGroup var listen: ListenOptions

    func run() throws {
        var config = ServerConfiguration()
        config.echoOnly = true
        config.host = listen.host ?? config.host
        config.port = listen.port ?? 9001
        config.maxQueueBytes = 256 << 20
        let logger = bootstrapLogging(listen.logLevel)
        try runServer(config, logger: logger)
    }
}

func bootstrapLogging(_ level: String?) -> Logger {
    LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
    var logger = Logger(label: "concord")
    logger.logLevel = level.flatMap(Logger.Level.init(rawValue:)) ?? .info
    return logger
}

func runServer(_ config: ServerConfiguration, logger: Logger) throws {
    raiseOpenFileLimit(logger: logger)
    let server: ConcordServer
    do {
        server = try ConcordServer(configuration: config, logger: logger)
    } catch let error as TokenKeyError {
        throw ValidationError(error.description)
    } catch let error as ConfigurationError {
        throw ValidationError(error.description)
    }
    let port: Int
    do {
        port = try server.bind()
    } catch {
        throw ValidationError("cannot listen on \(config.host):\(config.port): \(error)")
    }
    try server.handleSignals()
    if config.developmentMode {
        logger.warning("DEVELOPMENT MODE: connections are not authenticated and '?user=' picks any user. Never expose this server.")
    }
    if !config.echoOnly {
        if let redis = config.redis {
            logger.info("records stored in Redis at \(redis), up to \(config.recordCacheSize) kept in memory")
        } else if let directory = config.dataDirectory {
            logger.info("records stored in \(directory), up to \(config.recordCacheSize) kept in memory")
        } else {
            logger.notice("records kept in memory only (--memory): nothing survives a restart")
        }
    }
    if !config.echoOnly {
        if !config.hasTokenKeys && !config.developmentMode {
            logger.notice(
                "no token keys configured: connections are anonymous and may subscribe to \(config.publicSubscribe.map { $0.map(\.text).joined(separator: ", ") } ?? "every channel") (see --jwt-secret-file)"
            )
        }
        if config.allowedOrigins.isEmpty {
            logger.notice("any browser origin may connect; list yours with --allowed-origin")
        }
    }
    if config.apiKeys.isEmpty && config.apiKeysFile == nil && !config.echoOnly {
        logger.notice("no API key configured: POST /v1/publish answers 401 until one is given with --api-key")
    }
    if config.demoEnabled {
        logger.notice("demo app at http://\(config.host):\(port)/demo (open it in two windows as two users)")
    }
    // Tests and scripts wait for this exact line.
    print("concord listening on http://\(config.host):\(port)" + (config.echoOnly ? " (echo mode)" : ""))
    fflush(stdout)
    server.run()
    logger.info("stopped")
}

/// Raises the soft open-file limit to the hard one: each connection is a file descriptor.
func raiseOpenFileLimit(logger: Logger) {
    var limit = rlimit()
    guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
    limit.rlim_cur = limit.rlim_max
    _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
    getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
    // A few descriptors go to the loop, the listener and logs.
    logger.info("open-file limit \(limit.rlim_cur): room for about \(max(0, Int(limit.rlim_cur) - 32)) connections")
}
