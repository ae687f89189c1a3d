/// Where accepted record states become durable: the embedded SQLite store, or memory for tests.
///
/// The server calls `persist` on its loop thread once per loop turn with that turn's accepted
/// states; implementations do their I/O on their own thread and call `done` from any thread once the
/// batch is durable (nil) or failed. Batches complete in the order they were given.
public protocol RecordStore: AnyObject {
    /// Every stored record, read once before the server starts serving.
    func loadAll() throws -> [(RecordKey, RecordState)]
    func persist(_ batch: [(RecordKey, RecordState)], done: @escaping @Sendable ((any Error)?) -> Void)
    /// Finishes pending batches and releases the storage.
    func close()
}

/// Keeps nothing: for tests and ephemeral deployments, chosen explicitly with `--memory`.
public final class MemoryRecordStore: RecordStore {
    public init() {}
    public func loadAll() throws -> [(RecordKey, RecordState)] { [] }
    public func persist(_ batch: [(RecordKey, RecordState)], done: @escaping @Sendable ((any Error)?) -> Void) { done(nil) }
    public func close() {}
}
