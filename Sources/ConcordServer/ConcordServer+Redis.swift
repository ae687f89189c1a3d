import ConcordCore
import ConcordRedis

/// What a node sharing Redis does when Redis comes and goes, and when a stream moved on without it.
extension ConcordServer {
    /// Whether this node can serve everything now (`/readyz`), and why not.
    var readiness: (ready: Bool, reason: String?) {
        if shuttingDownNow { return (false, "the server is shutting down") }
        if let redis, !redis.isReady {
            if case .down(let why) = redis.state { return (false, "Redis is unavailable: \(why)") }
            return (false, "Redis is not connected yet")
        }
        return (true, nil)
    }

    /// Redis went or came back. Connections stay either way: while Redis is away, what needs it
    /// fails fast with `unavailable`; when it is back, the backends catch up (the broker reads
    /// what each stream missed, presence and typing are announced again).
    func redisStateChanged(_ state: RedisClient.State, was previous: RedisClient.State) {
        switch (previous, state) {
        case (.down, .ready): logger.info("Redis is reachable again")
        case (.ready, .down(let why)):
            logger.error("Redis is unavailable (\(why)): publishes, commits and presence changes fail until it is back")
        case (.down, .down(let why)): logger.debug("Redis is still unavailable: \(why)")
        default: break
        }
    }

    /// Shutting down: once every connection has closed (or the drain's deadline passed), the node
    /// lets go of Redis, whose connections would otherwise keep the loop, and the process, running.
    /// What this node held there lapses with its lease, as after a dropped network.
    func releaseRedisWhenDrained(force: Bool = false) {
        guard let redis, shuttingDownNow, force || connections.count == 0 else { return }
        redis.close()
    }

    /// Events of the channel reached Redis without reaching this node, and Redis no longer has them
    /// (or its stream began again): every subscriber here is asked to reconnect, so that it
    /// recovers from its last position (or is told to refetch). Spread over a second, so that they
    /// do not all come back at once.
    func streamReset(_ channel: String) {
        let subscribers = hub.subscribers(of: channel)
        logger.warning("the stream of \(channel) moved on without this node; asking its \(subscribers.count) subscribers to recover")
        metrics.streamResets.increment()
        for connection in subscribers {
            askToReconnect(connection, afterMilliseconds: Int64.random(in: 0...1_000), reason: "stream moved on")
        }
    }
}
