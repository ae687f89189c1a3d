import ArgumentParser
import ConcordCore
import Glibc

/// `concord-bench commit-check`: the conflict check alone, in process: how many commits per second
/// the core decides (accept or conflict), before any I/O.
struct CommitCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "commit-check",
        abstract: "Measure in-memory conflict checks per second (RecordBook, no server).")

    @Option(help: "Records, each written once before the clock starts.") var records = 10_000
    @Option(help: "Commits to decide.") var commits = 1_000_000
    @Option(help: "Actors writing.") var actors = 8

    func run() throws {
        var book = RecordBook()
        let keys = (0..<records).map { RecordKey(channel: "resources/posts", id: String($0)) }
        let names = (0..<actors).map { "user\($0)" }
        let fields = ["title", "body", "tags", "status", "author"]
        // Half the commits use the record's current version (accepted), half a stale one (conflict or
        // a disjoint-field merge), as a busy form-heavy app would send.
        for key in keys {
            _ = try book.commit(key, Commit(actor: "server", context: VersionVector(), fields: ["title": nil]), now: Timestamp(milliseconds: 0))
        }
        var stale: [VersionVector] = keys.map { book.state(of: $0)!.version }
        var accepted = 0, conflicted = 0
        let start = MonotonicClock.nanoseconds()
        for i in 0..<commits {
            let slot = (i &* 7919) % records
            let key = keys[slot]
            let current = book.state(of: key)?.version ?? VersionVector()
            let context = i % 2 == 0 ? current : stale[slot]
            let commit = Commit(actor: names[i % actors], context: context, fields: [fields[i % fields.count]: nil])
            switch try book.commit(key, commit, now: Timestamp(milliseconds: Int64(i))) {
            case .accepted: accepted += 1
            case .conflict: conflicted += 1
            }
            if i % 3 == 0 { stale[slot] = current }
        }
        let seconds = Double(MonotonicClock.nanoseconds() - start) / 1e9
        print(
            String(
                format: "commit-check: %d decided (%d accepted, %d conflicts) in %.2f s: %.0f checks/s, %.2f µs each",
                commits, accepted, conflicted, seconds, Double(commits) / seconds, seconds / Double(commits) * 1e6))
    }
}
