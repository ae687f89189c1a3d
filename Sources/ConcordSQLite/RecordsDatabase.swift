import ConcordCore
import CSQLite
import Foundation

/// `records.sqlite3`, opened, checked and tuned, with its statements compiled once.
///
/// Used from two threads (the opener's, for `readAll`, and the writer's), one at a time: the
/// connection is opened without SQLite's own mutex, and `lock` keeps a read from seeing a
/// transaction half written.
final class RecordsDatabase: @unchecked Sendable {
    let path: String
    private let lock = NSLock()
    private let connection: SQLiteConnection
    private let begin: SQLiteStatement
    private let insert: SQLiteStatement
    private let commit: SQLiteStatement
    private let rollback: SQLiteStatement
    private let selectAll: SQLiteStatement
    private var isClosed = false

    init(directory: String, fileName: String) throws(SQLiteStoreError) {
        try DataDirectory.prepare(directory)
        path = directory.hasSuffix("/") ? directory + fileName : directory + "/" + fileName
        connection = try SQLiteConnection(path: path)
        do {
            try Self.configure(connection)
            begin = try connection.prepare("BEGIN IMMEDIATE")
            insert = try connection.prepare("INSERT OR REPLACE INTO records(channel, id, state) VALUES (?1, ?2, ?3)")
            commit = try connection.prepare("COMMIT")
            rollback = try connection.prepare("ROLLBACK")
            selectAll = try connection.prepare("SELECT channel, id, state FROM records")
        } catch {
            connection.close()
            throw error
        }
        // The database and its write-ahead log now exist; make their names durable too.
        try DataDirectory.sync(directory)
    }

    deinit { close() }

    private static func configure(_ connection: SQLiteConnection) throws(SQLiteStoreError) {
        do {
            try tune(connection)
        } catch .sqlite(let code, _, _) where code & 0xFF == SQLITE_BUSY || code & 0xFF == SQLITE_LOCKED {
            throw .inUse(path: connection.path)
        }
    }

    private static func tune(_ connection: SQLiteConnection) throws(SQLiteStoreError) {
        // Exclusive: one Concord per data directory, since each keeps every record's version in
        // memory and two would accept conflicting commits. It also spares WAL its shared-memory file.
        try connection.execute("PRAGMA locking_mode = EXCLUSIVE")
        let contents = try StoreSchema.inspect(connection)
        guard !connection.isReadOnly else {
            throw .unusableDirectory(path: connection.path, reason: "the file is read-only")
        }
        let mode = try connection.prepare("PRAGMA journal_mode = WAL")
        let isWAL = try mode.step() && mode.text(at: 0) == "wal"
        // Finalized now: a statement still active would make the COMMIT below fail as busy.
        mode.finalize()
        guard isWAL else {
            throw .unusableDirectory(path: connection.path, reason: "its file system does not support write-ahead logging")
        }
        // FULL syncs the log at every commit: an acknowledged commit survives power loss, not only a crash.
        try connection.execute("PRAGMA synchronous = FULL")
        // On macOS fsync leaves data in the drive's cache; F_FULLFSYNC reaches the platter. No-op elsewhere.
        try connection.execute("PRAGMA fullfsync = ON")
        // A large group can grow the log; after each checkpoint, give back all but 64 MiB of it.
        try connection.execute("PRAGMA journal_size_limit = 67108864")
        // Taking the write lock here, rather than at the first commit, makes a second Concord fail at startup.
        try connection.execute(contents == .empty ? "BEGIN IMMEDIATE; \(StoreSchema.create) COMMIT" : "BEGIN IMMEDIATE; COMMIT")
    }

    /// Every stored record, decoded. The rows come in key order, so consecutive rows share one
    /// channel string instead of a million copies of it.
    func readAll() throws(SQLiteStoreError) -> [(RecordKey, RecordState)] {
        lock.lock()
        defer { lock.unlock() }
        guard !isClosed else { throw .closed }
        defer { selectAll.reset() }
        var decoder = ParallelDecoder(path: path)
        var channel = ""
        while try selectAll.step() {
            let rowChannel = selectAll.text(at: 0)
            if rowChannel != channel { channel = rowChannel }
            try decoder.append(RecordKey(channel: channel, id: selectAll.text(at: 1)), selectAll.bytes(at: 2))
        }
        try decoder.flush()
        return decoder.records
    }

    /// Writes every record of every batch in one transaction: one log sync for all of them.
    func write(_ batches: [[(RecordKey, RecordState)]]) throws(SQLiteStoreError) {
        lock.lock()
        defer { lock.unlock() }
        guard !isClosed else { throw .closed }
        do {
            try begin.run()
            for batch in batches {
                for (key, state) in batch {
                    defer { insert.reset() }
                    try insert.bind(key.channel, at: 1)
                    try insert.bind(key.id, at: 2)
                    try insert.bind(state.jsonBytes, at: 3)
                    _ = try insert.step()
                }
            }
            try commit.run()
        } catch {
            // A failed statement or COMMIT (a full disk) can leave the transaction open; undo it so
            // the next group starts clean.
            if !connection.isAutocommit { try? rollback.run() }
            throw error
        }
    }

    /// Runs SQL between groups; tests use it to fill the disk (`PRAGMA max_page_count`).
    func execute(_ sql: String) throws(SQLiteStoreError) {
        lock.lock()
        defer { lock.unlock() }
        guard !isClosed else { throw .closed }
        try connection.execute(sql)
    }

    /// Finalizes the statements and closes the file; SQLite checkpoints the log into it on the way.
    func close() {
        lock.lock()
        defer { lock.unlock() }
        guard !isClosed else { return }
        isClosed = true
        for statement in [begin, insert, commit, rollback, selectAll] { statement.finalize() }
        connection.close()
    }
}
