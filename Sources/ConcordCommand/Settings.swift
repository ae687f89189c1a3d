import ArgumentParser
import ConcordServer
import Foundation

/// Where `concord serve` finds a setting that no flag gave: its `CONCORD_*` environment variable,
/// else its key in the configuration file (`SettingKey` maps one to the other). Every option reads
/// `flag ?? settings.x("CONCORD_...") ?? default`, so flags win, then the environment, then the file.
/// Errors name the variable, or the key and the file.
struct Settings {
    let environment: [String: String]
    let file: ConfigurationFile?
    /// Called with each variable looked up, so tests can check that every key in the table is read.
    var onLookup: ((String) -> Void)?

    init(environment: [String: String], file: ConfigurationFile? = nil) {
        self.environment = environment
        self.file = file
    }

    /// The environment, and the file that `path` (from `--config`) or else `CONCORD_CONFIG` names.
    init(environment: [String: String], configFile path: String?) throws {
        let named = path ?? environment[SettingKey.configFileEnvironment].flatMap { $0.isEmpty ? nil : $0 }
        self.init(environment: environment, file: try named.map(ConfigurationFile.init(path:)))
    }

    private func fromEnvironment(_ key: String) -> String? {
        onLookup?(key)
        guard let value = environment[key], !value.isEmpty else { return nil }
        return value
    }

    func string(_ key: String) -> String? {
        if let text = fromEnvironment(key) { return text }
        guard case .string(let text)? = file?.values[key] else { return nil }
        return text
    }

    func int(_ key: String) throws -> Int? {
        guard let text = fromEnvironment(key) else {
            guard case .int(let value)? = file?.values[key] else { return nil }
            return value
        }
        guard let value = Int(text), value >= 0 else { throw ValidationError("\(key) must be a non-negative integer, not '\(text)'") }
        return value
    }

    func double(_ key: String) throws -> Double? {
        guard let text = fromEnvironment(key) else {
            guard case .double(let value)? = file?.values[key] else { return nil }
            return value
        }
        guard let value = Double(text), value > 0, value.isFinite else { throw ValidationError("\(key) must be a positive number, not '\(text)'") }
        return value
    }

    func list(_ key: String) -> [String] {
        guard let text = fromEnvironment(key) else {
            guard case .list(let items)? = file?.values[key] else { return [] }
            return items
        }
        return text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// On or off, or nil when neither the environment nor the file says.
    func bool(_ key: String) -> Bool? {
        guard let text = fromEnvironment(key) else {
            guard case .bool(let value)? = file?.values[key] else { return nil }
            return value
        }
        return ["1", "true", "yes", "on"].contains(text.lowercased())
    }

    func flag(_ key: String) -> Bool {
        bool(key) ?? false
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
