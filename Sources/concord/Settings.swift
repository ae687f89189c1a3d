import ArgumentParser
import ConcordServer

/// Reads `CONCORD_*` environment variables, with errors that name the variable.
struct Settings {
    let environment: [String: String]

    func string(_ key: String) -> String? {
        guard let value = environment[key], !value.isEmpty else { return nil }
        return value
    }

    func int(_ key: String) throws -> Int? {
        guard let text = string(key) else { return nil }
        guard let value = Int(text), value >= 0 else { throw ValidationError("\(key) must be a non-negative integer, not '\(text)'") }
        return value
    }

    func double(_ key: String) throws -> Double? {
        guard let text = string(key) else { return nil }
        guard let value = Double(text), value > 0, value.isFinite else { throw ValidationError("\(key) must be a positive number, not '\(text)'") }
        return value
    }

    func list(_ key: String) -> [String] {
        (string(key) ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func flag(_ key: String) -> Bool {
        ["1", "true", "yes", "on"].contains(string(key)?.lowercased() ?? "")
    }

    func validate(_ config: ServerConfiguration) throws {
        guard (0...65535).contains(config.port) else { throw ValidationError("port must be 0 to 65535") }
        guard config.maxMessageBytes >= 125 else { throw ValidationError("max message bytes must be at least 125") }
        guard config.maxSubscriptions >= 1 else { throw ValidationError("max subscriptions must be at least 1") }
        guard (1...10_000).contains(config.maxSubscriptionIDs) else { throw ValidationError("max subscription ids must be 1 to 10000") }
        guard config.maxHeaderBytes >= 1024, config.maxHeaderCount >= 8 else {
            throw ValidationError("max header bytes must be at least 1024 and max header count at least 8")
        }
        guard config.maxConnections >= 1 else { throw ValidationError("max connections must be at least 1") }
        guard config.handshakeTimeoutMilliseconds >= 100 else { throw ValidationError("handshake timeout must be at least 100 ms") }
        for (name, burst, rate) in [
            ("publish", config.publishBurst, config.publishPerSecond),
            ("typing", config.typingBurst, config.typingPerSecond),
            ("commit", config.commitBurst, config.commitPerSecond),
        ] {
            guard burst >= 1, rate > 0 else { throw ValidationError("\(name) burst must be at least 1 and its rate above 0") }
        }
        guard config.tokenNoticeMilliseconds >= 0 else { throw ValidationError("token notice must not be negative") }
        guard config.maxQueueBytes >= config.maxMessageBytes else { throw ValidationError("max queue bytes must be at least the max message size") }
        guard config.maxRecordActors >= 1 else { throw ValidationError("max record actors must be at least 1") }
        guard config.recordCacheSize >= 1 else { throw ValidationError("record cache must hold at least 1 record") }
        guard config.typingTTLMilliseconds >= 100 else { throw ValidationError("typing TTL must be at least 100 ms") }
        guard config.pingIntervalMilliseconds >= 100, config.idleTimeoutMilliseconds > config.pingIntervalMilliseconds else {
            throw ValidationError("ping interval must be at least 100 ms and shorter than the idle timeout")
        }
    }
}
