import ArgumentParser
import ConcordSQLite

/// `concord-bench populate`: fills a data directory with synthetic records, to measure startup.
struct PopulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "populate",
        abstract: "Write N synthetic records (3 actors, 5 fields) into a data directory.")

    @Option(help: "Data directory (created if missing).") var dataDir: String
    @Option(help: "Records to write.") var count = 1_000_000

    func run() throws {
        let start = MonotonicClock.nanoseconds()
        try SQLiteRecordStore.populate(directory: dataDir, count: count)
        print("populated \(count) records in \(Double(MonotonicClock.nanoseconds() - start) / 1e9) s")
    }
}
