import ArgumentParser
import ConcordServer

/// The limits that protect the server from clients (each also a `CONCORD_` environment variable).
struct LimitOptions: ParsableArguments {
    @Option(help: "Largest WebSocket message accepted, in bytes (env CONCORD_MAX_MESSAGE_BYTES).")
    var maxMessageBytes: Int?

    @Option(help: "Subscriptions one connection may hold (env CONCORD_MAX_SUBSCRIPTIONS).")
    var maxSubscriptions: Int?

    @Option(help: "Ids one subscription may filter on, at most 10000 (env CONCORD_MAX_SUBSCRIPTION_IDS).")
    var maxSubscriptionIds: Int?

    @Option(help: "Outbound bytes queued for one connection before it is closed with 4008 (env CONCORD_MAX_QUEUE_BYTES).")
    var maxQueueBytes: Int?

    @Option(help: "Largest HTTP request body, in bytes (env CONCORD_MAX_BODY_BYTES).")
    var maxBodyBytes: Int?

    @Option(help: "Largest HTTP request line and headers, in bytes (env CONCORD_MAX_HEADER_BYTES).")
    var maxHeaderBytes: Int?

    @Option(help: "Most HTTP header fields in one request (env CONCORD_MAX_HEADER_COUNT).")
    var maxHeaderCount: Int?

    @Option(help: "Open connections in total (env CONCORD_MAX_CONNECTIONS).")
    var maxConnections: Int?

    @Option(
        name: .customLong("max-connections-per-ip"),
        help: "Open connections from one address; 0 for no limit, as behind a proxy (env CONCORD_MAX_CONNECTIONS_PER_IP).")
    var maxConnectionsPerIP: Int?

    @Option(help: "Open WebSocket connections of one user; 0 for no limit (env CONCORD_MAX_CONNECTIONS_PER_USER).")
    var maxConnectionsPerUser: Int?

    @Option(help: "Milliseconds a new connection has to complete its first HTTP request (env CONCORD_HANDSHAKE_TIMEOUT).")
    var handshakeTimeout: UInt64?

    @Option(help: "Publishes per second per connection, after a burst (env CONCORD_PUBLISH_RATE).")
    var publishRate: Double?

    @Option(help: "Publishes a connection may send at once (env CONCORD_PUBLISH_BURST).")
    var publishBurst: Int?

    @Option(help: "Typing signals per second per connection, after a burst (env CONCORD_TYPING_RATE).")
    var typingRate: Double?

    @Option(help: "Typing signals a connection may send at once (env CONCORD_TYPING_BURST).")
    var typingBurst: Int?

    @Option(help: "Commits and deletes per second per user, after a burst (env CONCORD_COMMIT_RATE).")
    var commitRate: Double?

    @Option(help: "Commits a user may send at once (env CONCORD_COMMIT_BURST).")
    var commitBurst: Int?

    func apply(to config: inout ServerConfiguration, settings: Settings) throws {
        config.maxMessageBytes = try maxMessageBytes ?? settings.int("CONCORD_MAX_MESSAGE_BYTES") ?? config.maxMessageBytes
        config.maxSubscriptions = try maxSubscriptions ?? settings.int("CONCORD_MAX_SUBSCRIPTIONS") ?? config.maxSubscriptions
        config.maxSubscriptionIDs = try maxSubscriptionIds ?? settings.int("CONCORD_MAX_SUBSCRIPTION_IDS") ?? config.maxSubscriptionIDs
        config.maxQueueBytes = try maxQueueBytes ?? settings.int("CONCORD_MAX_QUEUE_BYTES") ?? config.maxQueueBytes
        config.maxBodyBytes = try maxBodyBytes ?? settings.int("CONCORD_MAX_BODY_BYTES") ?? config.maxBodyBytes
        config.maxHeaderBytes = try maxHeaderBytes ?? settings.int("CONCORD_MAX_HEADER_BYTES") ?? config.maxHeaderBytes
        config.maxHeaderCount = try maxHeaderCount ?? settings.int("CONCORD_MAX_HEADER_COUNT") ?? config.maxHeaderCount
        config.maxConnections = try maxConnections ?? settings.int("CONCORD_MAX_CONNECTIONS") ?? config.maxConnections
        config.maxConnectionsPerIP = try maxConnectionsPerIP ?? settings.int("CONCORD_MAX_CONNECTIONS_PER_IP") ?? config.maxConnectionsPerIP
        config.maxConnectionsPerUser = try maxConnectionsPerUser ?? settings.int("CONCORD_MAX_CONNECTIONS_PER_USER") ?? config.maxConnectionsPerUser
        config.handshakeTimeoutMilliseconds =
            try handshakeTimeout ?? settings.int("CONCORD_HANDSHAKE_TIMEOUT").map(UInt64.init) ?? config.handshakeTimeoutMilliseconds
        config.publishPerSecond = try publishRate ?? settings.double("CONCORD_PUBLISH_RATE") ?? config.publishPerSecond
        config.publishBurst = try publishBurst ?? settings.int("CONCORD_PUBLISH_BURST") ?? config.publishBurst
        config.typingPerSecond = try typingRate ?? settings.double("CONCORD_TYPING_RATE") ?? config.typingPerSecond
        config.typingBurst = try typingBurst ?? settings.int("CONCORD_TYPING_BURST") ?? config.typingBurst
        config.commitPerSecond = try commitRate ?? settings.double("CONCORD_COMMIT_RATE") ?? config.commitPerSecond
        config.commitBurst = try commitBurst ?? settings.int("CONCORD_COMMIT_BURST") ?? config.commitBurst
    }
}
