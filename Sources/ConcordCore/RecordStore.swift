/// Where records live: the embedded SQLite store, memory with `--memory`, or Redis shared by several
/// nodes. The store is the source of truth; the server keeps only a bounded `RecordCache` of it, and
/// decides commits with `RecordRules` before it persists them. Every implementation passes the
/// shared contract suite (`Tests/ConcordBackendTests/RecordStoreContractTests.swift`).
///
/// The server calls `read` and `persist` on its loop thread. Implementations do their I/O on a
/// thread of their own (or on the loop, asynchronously) and call `done` from any thread: `read` once
/// with one state per key (nil for a record never stored), `persist` once with one outcome per write
/// once the batch is durable, or with a failure. Batches complete in the order they were given, and
/// a read asked after a batch completed sees it.
///
/// Each write names the state it was decided on (`RecordWrite.base`). A store that one node owns
/// (memory, SQLite) never loses a race and answers `.stored`. A store `shared` by several nodes
/// writes only when it still holds exactly that state, and otherwise answers `.lost` with the state
/// it holds, so that the server decides again: compare-and-set, with the rules kept in the core.
/// It reports other nodes' writes through `onChange`, and `onLostTrack` when it may have missed
/// some (after a reconnect), so that the server's cache never trusts what it cannot know.
public protocol RecordStore: AnyObject {
    func read(_ keys: [RecordKey], done: @escaping @Sendable (Result<[RecordState?], RecordReadFailure>) -> Void)
    func persist(_ batch: [RecordWrite], done: @escaping @Sendable (Result<[RecordWriteOutcome], RecordStoreFailure>) -> Void)
    /// The ids stored under one channel, in id order, at most `limit`: a blocking scan of that
    /// channel alone, for start-up (the demo lists its posts with it).
    func ids(in channel: String, limit: Int) throws -> [String]
    /// Finishes pending batches and releases the storage.
    func close()

    /// Several nodes write this store: writes may lose races, and the cache must hear `onChange`.
    var isShared: Bool { get }
    /// False while the store cannot be reached: reads and commits are refused at once, even from
    /// the cache, since what it holds may be out of date.
    var isAvailable: Bool { get }
    /// Another node's accepted write, on the loop thread, after it is durable.
    var onChange: ((RecordChange) -> Void)? { get set }
    /// Changes may have been missed (a reconnect): cached states that no write pins must be read again.
    var onLostTrack: (() -> Void)? { get set }
}

extension RecordStore {
    public var isShared: Bool { false }
    public var isAvailable: Bool { true }
    public var onChange: ((RecordChange) -> Void)? {
        get { nil }
        set {}
    }
    public var onLostTrack: (() -> Void)? {
        get { nil }
        set {}
    }
}

/// One record's new state and the state it was decided on (nil: the record did not exist).
public struct RecordWrite: Sendable {
    public var key: RecordKey
    public var state: RecordState
    public var base: RecordState?

    public init(_ key: RecordKey, _ state: RecordState, base: RecordState?) {
        self.key = key
        self.state = state
        self.base = base
    }
}

/// What became of one write of a batch.
public enum RecordWriteOutcome: Equatable, Sendable {
    /// Durable.
    case stored
    /// Another node changed the record first; nothing was written. The state the store holds now.
    case lost(current: RecordState?)
}

/// Why a batch was not written (none of it is acknowledged): in words, and whether the store is
/// broken for good (a data directory that failed) or may work again (Redis coming back).
public struct RecordStoreFailure: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public var lasting: Bool

    public init(_ reason: String, lasting: Bool) {
        self.reason = reason
        self.lasting = lasting
    }

    public var description: String { reason }
}

/// A write accepted on another node: the record's state after it, and the commit it was.
public struct RecordChange: Sendable {
    public var key: RecordKey
    public var state: RecordState
    public var accepted: CommitOutcome.Accepted

    public init(key: RecordKey, state: RecordState, accepted: CommitOutcome.Accepted) {
        self.key = key
        self.state = state
        self.accepted = accepted
    }
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

    public func persist(_ batch: [RecordWrite], done: @escaping @Sendable (Result<[RecordWriteOutcome], RecordStoreFailure>) -> Void) {
        guard !closed else { return done(.failure(RecordStoreFailure(Closed().description, lasting: true))) }
        for write in batch { records[write.key] = write.state }
        done(.success(Array(repeating: .stored, count: batch.count)))
    }

    /// Stores states as they are, without a base: for filling a store in tests.
    public func fill(_ batch: [(RecordKey, RecordState)]) {
        for (key, state) in batch { records[key] = state }
    }

    public func ids(in channel: String, limit: Int) throws -> [String] {
        Array(records.keys.filter { $0.channel == channel }.map(\.id).sorted().prefix(limit))
    }

    public func close() {
        closed = true
        records = [:]
    }
}
