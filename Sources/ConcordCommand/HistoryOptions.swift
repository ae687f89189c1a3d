import ArgumentParser
import ConcordCore
import ConcordServer

/// How much history channels keep for clients that reconnect.
struct HistoryOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "History a channel keeps, as \(HistoryPolicy.ruleFormat); repeat it, the first matching pattern wins, other channels keep 300 events for 5 minutes (env CONCORD_HISTORY, comma-separated).",
            valueName: "rule"))
    var history: [String] = []

    @Option(help: "Most missed events one subscription recovers; past it the client refetches (env CONCORD_MAX_RECOVERY).")
    var maxRecovery: Int?

    @Option(help: "Milliseconds over which clients told to reconnect on SIGTERM spread their return (env CONCORD_DRAIN_WINDOW).")
    var drainWindow: Int?

    func apply(to config: inout ServerConfiguration, settings: Settings) throws {
        let rules = history.isEmpty ? settings.list("CONCORD_HISTORY") : history
        config.history.rules = try rules.map { text in
            guard let rule = HistoryPolicy.rule(text) else {
                throw ValidationError("--history \(text): expected \(HistoryPolicy.ruleFormat)")
            }
            return rule
        }
        config.maxRecovery = try maxRecovery ?? settings.int("CONCORD_MAX_RECOVERY") ?? config.maxRecovery
        guard config.maxRecovery >= 0 else { throw ValidationError("max recovery must be 0 or more") }
        let drain = try drainWindow ?? settings.int("CONCORD_DRAIN_WINDOW") ?? Int(config.drainWindowMilliseconds)
        guard (0...600_000).contains(drain) else { throw ValidationError("drain window must be 0 to 600000 ms") }
        config.drainWindowMilliseconds = Int64(drain)
    }
}
