import ArgumentParser
import ConcordRedis
import ConcordServer

/// Several nodes sharing one Redis.
struct RedisOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Share channels, history, presence, typing and records with the other nodes on this Redis: redis://[[USER]:PASSWORD@]HOST[:PORT][/DB][?prefix=PREFIX] (env CONCORD_REDIS_URL). Without it the node stands alone.",
            valueName: "url"))
    var redis: String?

    @Flag(
        help:
            "Start even when Redis does not sync every write before answering (appendonly yes, appendfsync always): an acknowledged commit may be lost if Redis crashes (env CONCORD_REDIS_WEAK_DURABILITY=1)."
    )
    var redisWeakDurability = false

    @Option(help: "Milliseconds a Redis command may take before the connection is dropped and the command fails (env CONCORD_REDIS_TIMEOUT). Default 2000.")
    var redisTimeout: Int?

    func apply(to config: inout ServerConfiguration, settings: Settings) throws {
        if let text = redis ?? settings.string("CONCORD_REDIS_URL") {
            switch RedisAddress.parse(text) {
            case .success(let address): config.redis = address
            case .failure(let error): throw ValidationError("--redis: \(error.description)")
            }
        }
        config.redisWeakDurability = redisWeakDurability || settings.flag("CONCORD_REDIS_WEAK_DURABILITY")
        let timeout = try redisTimeout ?? settings.int("CONCORD_REDIS_TIMEOUT") ?? Int(config.redisTimeoutMilliseconds)
        guard (50...60_000).contains(timeout) else { throw ValidationError("Redis timeout must be 50 to 60000 ms") }
        config.redisTimeoutMilliseconds = Int64(timeout)
    }
}
