/// Where records live: the embedded SQLite store, or memory with `--memory`. The store is the
/// source of truth; the server keeps only a bounded `RecordCache` of it, and decides commits with
/// `RecordRules` before it persists them. Every implementation passes the shared contract suite
/// (`Tests/ConcordSQLiteTests/RecordStoreContractTests.swift`).
///
/// The server calls `read` and `persist` on its loop thread. Implementations do their I/O on a
/// thread of their own and call `done` from any thread: `read` once with one state per key (nil
/// for a record never stored), `persist` once the batch is durable (nil) or failed. Batches
/// complete in the order they were given, and a read asked after a batch completed sees it.
public protocol RecordStore: AnyObject {
    func read(_ keys: [RecordKey], done: @escaping @Sendable (Result<[RecordState?], RecordReadFailure>) -> Void)
    func persist(_ batch: [(RecordKey, RecordState)], done: @escaping @Sendable ((any Error)?) -> Void)
    /// The ids stored under one channel, in id order, at most `limit`: a blocking scan of that
    /// channel alone, for start-up (the demo lists its posts with it).
    func ids(in channel: String, limit: Int) throws -> [String]
    /// Finishes pending batches and releases the storage.
    func close()
}

/// Keeps records in this process only, chosen explicitly with `--memory`: nothing survives a
/// restart. Used from the loop thread alone; `done` runs before `read` and `persist` return.
public final class MemoryRecordStore: RecordStore {
    private var records: [RecordKey: RecordState] = [:]
    private var closed = false

    /// Why calls fail once the store is closed, as for every store.
    public struct Closed: Error, CustomStringConvertible {
        public var description: String { "the record store is closed" }
    }

    public init() {}

    public var count: Int { records.count }

    public func read(_ keys: [RecordKey], done: @escaping @Sendable (Result<[RecordState?], RecordReadFailure>) -> Void) {
        guard !closed else { return done(.failure(RecordReadFailure(Closed().description))) }
        done(.success(keys.map { records[$0] }))
    }

    public func persist(_ batch: [(RecordKey, RecordState)], done: @escaping @Sendable ((any Error)?) -> Void) {
        guard !closed else { return done(Closed()) }
        for (key, state) in batch { records[key] = state }
        done(nil)
    }

    public func ids(in channel: String, limit: Int) throws -> [String] {
        Array(records.keys.filter { $0.channel == channel }.map(\.id).sorted().prefix(limit))
    }

    public func close() {
        closed = true
        records = [:]
    }
}
