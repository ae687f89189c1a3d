import ArgumentParser
import ConcordCommand
import ConcordServer

/// `concord`: the realtime presence and conflict server.
@main
struct Concord: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Realtime presence, typing and conflict service for collaborative web apps.",
        version: "concord \(ConcordServer.version) (commit \(ConcordServer.commit))",
        subcommands: [Serve.self, Echo.self],
        defaultSubcommand: Serve.self)
}
