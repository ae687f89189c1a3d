import ArgumentParser
import ConcordAuth
import ConcordCore
import ConcordServer
import Foundation
import Logging

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
