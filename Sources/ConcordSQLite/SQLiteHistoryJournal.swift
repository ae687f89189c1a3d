import ConcordCore

/// Channel streams and their history in `history.sqlite3` in the data directory, written by a
/// thread of its own: every operation queued during a loop turn goes in one transaction. Writes are
/// not synced one by one (the history is a convenience for reconnecting clients, not a record of
/// truth); a crash is told apart by the `clean` mark instead, and a journal not closed cleanly
/// answers no streams at the next start (see `HistoryJournal`).
public final class SQLiteHistoryJournal: HistoryJournal, @unchecked Sendable {
    enum Operation {
        case started(channel: String, epoch: String)
        case appended(channel: String, epoch: String, offset: Int64, at: Int64, frame: [UInt8])
        case trimmed(channel: String, before: Int64)
        case forgot(channel: String)
    }

    public static let fileName = "history.sqlite3"
    private let connection: SQLiteConnection
    private var thread: BatchingThread<Operation>!
    /// Whether the last run closed the journal: read once at open, before the mark is cleared.
    private let lastRunWasClean: Bool
    private var closed = false

    /// Opens (creating) the journal in `directory`, which the record store has locked already.
    public init(directory: String) throws(SQLiteStoreError) {
        let path = directory.hasSuffix("/") ? directory + Self.fileName : directory + "/" + Self.fileName
        connection = try SQLiteConnection(path: path)
        try connection.execute("PRAGMA journal_mode = WAL")
        try connection.execute("PRAGMA synchronous = FULL")
        try connection.execute(
            """
            CREATE TABLE IF NOT EXISTS streams (channel TEXT PRIMARY KEY, epoch TEXT NOT NULL, last_offset INTEGER NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS events (channel TEXT NOT NULL, offset INTEGER NOT NULL, at INTEGER NOT NULL, frame BLOB NOT NULL,
                PRIMARY KEY (channel, offset)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
            """)
        lastRunWasClean = try connection.integer("SELECT value FROM meta WHERE key = 'clean'") == 1
        if !lastRunWasClean {
            try connection.execute("DELETE FROM events; DELETE FROM streams")
        }
        // From here until `close`, a crash leaves the mark unset (synced: FULL for this one write).
        try connection.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('clean', 0)")
        try connection.execute("PRAGMA synchronous = NORMAL")
        let connection = connection
        thread = BatchingThread(
            name: "concord-history-writer",
            work: { operations in
                // A failed write loses history, never correctness: the next start finds no clean
                // mark only if the run crashes; a stream short of events answers history_too_short.
                try? Self.write(operations, to: connection)
            },
            finish: {})
    }

    deinit { close() }

    public func load() throws -> [String: ChannelStream] {
        guard lastRunWasClean else { return [:] }
        var kept: [String: [HistoryEntry]] = [:]
        let events = try connection.prepare("SELECT channel, offset, at, frame FROM events ORDER BY channel, offset")
        defer { events.finalize() }
        while try events.step() {
            let at = Timestamp(milliseconds: events.int64(at: 2))
            if let entry = HistoryEntry(frame: events.bytes(at: 3), at: at), entry.offset == UInt64(events.int64(at: 1)) {
                kept[events.text(at: 0), default: []].append(entry)
            }
        }
        var streams: [String: ChannelStream] = [:]
        let rows = try connection.prepare("SELECT channel, epoch, last_offset FROM streams")
        defer { rows.finalize() }
        while try rows.step() {
            let channel = rows.text(at: 0)
            streams[channel] = ChannelStream(epoch: rows.text(at: 1), lastOffset: UInt64(rows.int64(at: 2)), kept: kept[channel] ?? [])
        }
        return streams
    }

    public func started(_ channel: String, epoch: String) {
        _ = thread.enqueue(.started(channel: channel, epoch: epoch))
    }

    public func appended(_ channel: String, epoch: String, _ entry: HistoryEntry) {
        _ = thread.enqueue(.appended(channel: channel, epoch: epoch, offset: Int64(entry.offset), at: entry.at.milliseconds, frame: entry.frame))
    }

    public func trimmed(_ channel: String, before offset: UInt64) {
        _ = thread.enqueue(.trimmed(channel: channel, before: Int64(offset)))
    }

    public func forgot(_ channel: String) {
        _ = thread.enqueue(.forgot(channel: channel))
    }

    /// Writes what is queued, marks the run clean (synced), and closes the file.
    public func close() {
        guard !closed else { return }
        closed = true
        thread.close()
        try? connection.execute("PRAGMA synchronous = FULL")
        try? connection.execute("UPDATE meta SET value = 1 WHERE key = 'clean'")
        connection.close()
    }

    private static func write(_ operations: [Operation], to connection: SQLiteConnection) throws(SQLiteStoreError) {
        try connection.execute("BEGIN")
        do {
            let stream = try connection.prepare(
                "INSERT INTO streams (channel, epoch, last_offset) VALUES (?1, ?2, ?3) ON CONFLICT (channel) DO UPDATE SET epoch = ?2, last_offset = ?3")
            let event = try connection.prepare("INSERT OR REPLACE INTO events (channel, offset, at, frame) VALUES (?1, ?2, ?3, ?4)")
            let trim = try connection.prepare("DELETE FROM events WHERE channel = ?1 AND offset < ?2")
            let forgetStream = try connection.prepare("DELETE FROM streams WHERE channel = ?1")
            let forgetEvents = try connection.prepare("DELETE FROM events WHERE channel = ?1")
            defer { [stream, event, trim, forgetStream, forgetEvents].forEach { $0.finalize() } }
            for operation in operations {
                switch operation {
                case .started(let channel, let epoch):
                    try stream.bind(channel, at: 1)
                    try stream.bind(epoch, at: 2)
                    try stream.bind(0, at: 3)
                    try stream.run()
                case .appended(let channel, let epoch, let offset, let at, let frame):
                    try stream.bind(channel, at: 1)
                    try stream.bind(epoch, at: 2)
                    try stream.bind(offset, at: 3)
                    try stream.run()
                    try event.bind(channel, at: 1)
                    try event.bind(offset, at: 2)
                    try event.bind(at, at: 3)
                    try event.bind(frame, at: 4)
                    try event.run()
                case .trimmed(let channel, let before):
                    try trim.bind(channel, at: 1)
                    try trim.bind(before, at: 2)
                    try trim.run()
                case .forgot(let channel):
                    try forgetStream.bind(channel, at: 1)
                    try forgetStream.run()
                    try forgetEvents.bind(channel, at: 1)
                    try forgetEvents.run()
                }
            }
            try connection.execute("COMMIT")
        } catch {
            try? connection.execute("ROLLBACK")
            throw error
        }
    }
}
