import ConcordCore
import ConcordRedis
import ConcordUV
import Logging

/// Where this node keeps what it shares: in this process (one node: memory, and the data directory
/// for what must outlive it), or in the Redis several nodes share (`--redis`).
struct ServerBackends {
    var broker: any Broker
    var presence: any PresenceStore
    var typing: any TypingStore
    var records: any RecordStore
    /// The node's view of Redis, when several nodes share one.
    var redis: RedisNode?

    static func make(configuration: ServerConfiguration, loop: EventLoop, clock: any ServerClock, logger: Logger) throws -> ServerBackends {
        guard let address = configuration.redis, !configuration.echoOnly else {
            let records = try configuration.makeRecordStore()
            let broker =
                try configuration.makeBroker?()
                ?? MemoryBroker(policy: configuration.history, maxRecovery: configuration.maxRecovery, journal: configuration.makeHistoryJournal())
            return ServerBackends(broker: broker, presence: MemoryPresenceStore(), typing: MemoryTypingStore(), records: records)
        }
        let node = RedisNode(
            loop: loop, address: address, timeoutMilliseconds: configuration.redisTimeoutMilliseconds,
            now: { clock.monotonicMilliseconds() })
        // Reached before anything listens: a node that cannot reach Redis says so and stops, never
        // runs on as a single node.
        let durability: RedisDurability
        do {
            durability = try RedisDurability.check(node, timeoutMilliseconds: Int(configuration.redisTimeoutMilliseconds))
        } catch {
            throw ConfigurationError("cannot reach Redis at \(address): \(error)")
        }
        if !durability.isDurable {
            guard configuration.redisWeakDurability else {
                throw ConfigurationError(
                    "\(durability); an acknowledged commit could be lost. Set appendonly yes and appendfsync always on Redis, "
                        + "or start with --redis-weak-durability to accept that")
            }
            logger.warning("WEAK DURABILITY (--redis-weak-durability): \(durability); an acknowledged commit may be lost if Redis crashes")
        }
        let wall = { clock.wallNow().milliseconds }
        let backends = ServerBackends(
            broker: configuration.makeBroker?()
                ?? RedisBroker(node: node, policy: configuration.history, maxRecovery: configuration.maxRecovery, now: { clock.wallNow() }),
            presence: RedisPresenceStore(node: node, now: wall), typing: RedisTypingStore(node: node, now: wall),
            records: RedisRecordStore(node: node), redis: node)
        // The stores listen before the node connects, so their channels are subscribed at once.
        node.start()
        guard loop.run(until: { node.isReady }, timeoutMilliseconds: UInt64(configuration.redisTimeoutMilliseconds) * 2) else {
            node.close()
            throw ConfigurationError("cannot reach Redis at \(address): \(node.state)")
        }
        logger.info("sharing channels, presence, typing and records through \(address) as node \(node.id)")
        return backends
    }
}
