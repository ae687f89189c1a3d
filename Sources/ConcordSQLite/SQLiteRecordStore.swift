import ConcordCore

/// The durable record store: `records.sqlite3` in the data directory, written by one thread with
/// group commit, each commit synced (WAL, `synchronous=FULL`) before its batch's `done` is called,
/// and read by another thread on its own connection, so that a read never waits for a sync.
///
/// `init` and `ids` do blocking I/O on the caller's thread (they run before the server serves);
/// `read` and `persist` only queue, and `close` waits for both queues to drain.
public final class SQLiteRecordStore: RecordStore, @unchecked Sendable {
    /// The file inside the data directory.
    public static let fileName = "records.sqlite3"

    /// The database file's path.
    public var path: String { database.path }

    let database: RecordsDatabase
    let writer: GroupCommitWriter
    let reader: RecordsReader

    /// Opens the store in `directory`, creating the directory and an empty store when missing.
    /// Throws `SQLiteStoreError` when the directory is unusable, the file is not a Concord store,
    /// or another process has it open.
    public init(directory: String) throws {
        database = try RecordsDatabase(directory: directory, fileName: Self.fileName)
        do {
            reader = try RecordsReader(path: database.path)
        } catch {
            database.close()
            throw error
        }
        writer = GroupCommitWriter(database: database)
    }

    /// Opens the store in `directory`; the same as `init(directory:)`.
    public static func open(directory: String) throws -> SQLiteRecordStore {
        try SQLiteRecordStore(directory: directory)
    }

    deinit { close() }

    /// Queues a read for the reader thread; `done` runs on that thread with the states. On a
    /// closed store `done` runs at once with a failure.
    public func read(_ keys: [RecordKey], done: @escaping @Sendable (Result<[RecordState?], RecordReadFailure>) -> Void) {
        if !reader.enqueue(keys, done: done) { done(.failure(RecordReadFailure(SQLiteStoreError.closed.description))) }
    }

    /// Queues `batch` for the writer thread; `done` runs on that thread once the batch is durable
    /// (nil) or failed. On a closed store `done` runs at once with `SQLiteStoreError.closed`.
    public func persist(_ batch: [(RecordKey, RecordState)], done: @escaping @Sendable ((any Error)?) -> Void) {
        if !writer.enqueue(batch, done: done) { done(SQLiteStoreError.closed) }
    }

    /// The store's side of the protocol: one node owns the directory, so no write loses a race
    /// and bases are not compared; a failure is lasting (the directory may be broken).
    public func persist(_ batch: [RecordWrite], done: @escaping @Sendable (Result<[RecordWriteOutcome], RecordStoreFailure>) -> Void) {
        let count = batch.count
        persist(batch.map { ($0.key, $0.state) }) { error in
            if let error {
                done(.failure(RecordStoreFailure("\(error)", lasting: true)))
            } else {
                done(.success(Array(repeating: .stored, count: count)))
            }
        }
    }

    public func ids(in channel: String, limit: Int) throws -> [String] {
        try database.ids(in: channel, limit: limit)
    }

    /// Answers every queued read, writes every queued batch, stops both threads and closes the
    /// file. Idempotent.
    public func close() {
        reader.close()
        writer.close()
    }
}
