import ConcordCore
import CSQLite
import Foundation

/// `records.sqlite3`, opened, checked and tuned, with its write statements compiled once; the
/// connection that writes. Reads go through `RecordsReader`'s own connection, so that a read never
/// waits for a write's sync (write-ahead logging lets one writer and readers run together).
///
/// Used from the writer thread, and from the opener's thread before serving (`ids`), one at a
/// time: the connection is opened without SQLite's own mutex, and `lock` serialises them.
final class RecordsDatabase: @unchecked Sendable {
    let path: String
    private let lock = NSLock()
    private let connection: SQLiteConnection
    private let begin: SQLiteStatement
    private let insert: SQLiteStatement
    private let commit: SQLiteStatement
    private let rollback: SQLiteStatement
    /// The data directory's lock, held until `close`.
    private var directoryLock: Int32
    private var isClosed = false

    init(directory: String, fileName: String) throws(SQLiteStoreError) {
        try DataDirectory.prepare(directory)
        path = directory.hasSuffix("/") ? directory + fileName : directory + "/" + fileName
        guard let directoryLock = try DataDirectory.lock(directory) else { throw .inUse(path: path) }
        self.directoryLock = directoryLock
        do {
            connection = try SQLiteConnection(path: path)
        } catch {
            DataDirectory.unlock(directoryLock)
            throw error
        }
        do {
            try Self.configure(connection)
            begin = try connection.prepare("BEGIN IMMEDIATE")
            insert = try connection.prepare("INSERT OR REPLACE INTO records(channel, id, state) VALUES (?1, ?2, ?3)")
            commit = try connection.prepare("COMMIT")
            rollback = try connection.prepare("ROLLBACK")
        } catch {
            connection.close()
            DataDirectory.unlock(directoryLock)
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
        // A foreign process holding the file (another program, or a Concord from before the
        // directory lock) fails here rather than at the first commit.
        try connection.execute(contents == .empty ? "BEGIN IMMEDIATE; \(StoreSchema.create) COMMIT" : "BEGIN IMMEDIATE; COMMIT")
    }

    /// Up to `limit` ids stored under `channel`, in id order: a range of the primary key.
    func ids(in channel: String, limit: Int) throws(SQLiteStoreError) -> [String] {
        lock.lock()
        defer { lock.unlock() }
        guard !isClosed else { throw .closed }
        let select = try connection.prepare("SELECT id FROM records WHERE channel = ?1 ORDER BY id LIMIT ?2")
        defer { select.finalize() }
        try select.bind(channel, at: 1)
        try select.bind(Int64(limit), at: 2)
        var ids: [String] = []
        while try select.step() { ids.append(select.text(at: 0)) }
        return ids
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
        for statement in [begin, insert, commit, rollback] { statement.finalize() }
        connection.close()
        DataDirectory.unlock(directoryLock)
        directoryLock = -1
    }
}
