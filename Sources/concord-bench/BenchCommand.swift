import ArgumentParser

/// `concord-bench`: load generators for Concord, each on one libuv loop.
@main
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "concord-bench",
        abstract: "Load generators for Concord.",
        subcommands: [FanoutCommand.self])
}
