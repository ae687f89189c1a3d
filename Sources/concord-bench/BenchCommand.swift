import ArgumentParser

/// `concord-bench`: load generators for Concord, each on one libuv loop, and micro-benchmarks of its core.
@main
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "concord-bench",
        abstract: "Load generators and micro-benchmarks for Concord.",
        subcommands: [FanoutCommand.self, PresenceCommand.self, ExpiryCommand.self, CommitsCommand.self, CommitCheckCommand.self, PopulateCommand.self])
}
