import ConcordCore

/// The durable record store: `records.sqlite3` in the data directory, written by one thread with
/// group commit, each commit synced (WAL, `synchronous=FULL`) before its batch's `done` is called.
///
/// `init` and `loadAll` do blocking I/O on the caller's thread (they run before the server
/// serves); `persist` only queues, and `close` waits for the queue to drain.
public final class SQLiteRecordStore: RecordStore, @unchecked Sendable {
    /// The file inside the data directory.
    public static let fileName = "records.sqlite3"

    /// The database file's path.
    public var path: String { database.path }

    let database: RecordsDatabase
    let writer: GroupCommitWriter

    /// Opens the store in `directory`, creating the directory and an empty store when missing.
    /// Throws `SQLiteStoreError` when the directory is unusable, the file is not a Concord store,
    /// or another process has it open.
    public init(directory: String) throws {
        database = try RecordsDatabase(directory: directory, fileName: Self.fileName)
        writer = GroupCommitWriter(database: database)
    }

    /// Opens the store in `directory`; the same as `init(directory:)`.
    public static func open(directory: String) throws -> SQLiteRecordStore {
        try SQLiteRecordStore(directory: directory)
    }

    deinit { writer.close() }

    public func loadAll() throws -> [(RecordKey, RecordState)] {
        try database.readAll()
    }

    /// Queues `batch` for the writer thread; `done` runs on that thread once the batch is durable
    /// (nil) or failed. On a closed store `done` runs at once with `SQLiteStoreError.closed`.
    public func persist(_ batch: [(RecordKey, RecordState)], done: @escaping @Sendable ((any Error)?) -> Void) {
        if !writer.enqueue(batch, done: done) { done(SQLiteStoreError.closed) }
    }

    /// Writes every queued batch, stops the writer thread and closes the file. Idempotent.
    public func close() {
        writer.close()
    }
}
