import ConcordCore
import Foundation

extension SQLiteRecordStore {
    /// Fills the store in `directory` with `count` synthetic records, for measuring startup with a
    /// large store (a million records, read on demand).
    ///
    /// Each record looks like a busy one: `resources/bench` + `1`...`count`, three actors, five
    /// fields (two with a shared short value), written through `persist` in batches of 10,000,
    /// as the server would. Existing records with those keys are replaced.
    public static func populate(directory: String, count: Int) throws {
        let store = try SQLiteRecordStore(directory: directory)
        defer { store.close() }
        // Two batches in flight: the next is built while the writer syncs the last, and memory
        // stays at two batches however large `count` is.
        let window = BatchWindow(limit: 2)
        let batchSize = 10_000
        var next = 0
        while next < count, window.error == nil {
            let ids = next..<min(count, next + batchSize)
            next = ids.upperBound
            let batch = ids.map { (RecordKey(channel: "resources/bench", id: String($0 + 1)), syntheticState($0)) }
            window.acquire()
            store.persist(batch) { error in window.release(error) }
        }
        window.drain()
        if let error = window.error { throw error }
    }

    /// A state as three editors would leave it: alice made the record, bob and carol edited
    /// fields, and alice saved the whole form once.
    public static func syntheticState(_ n: Int) -> RecordState {
        let actors = ["alice-\(n % 97)", "bob-\(n % 89)", "carol-\(n % 83)"]
        let base = Int64(1_763_805_600_000) + Int64(n) * 1000
        var state = RecordState()
        state.version = VersionVector([actors[0]: 3, actors[1]: 2, actors[2]: 1])
        state.actors = actors
        let fields: [(String, Int, UInt64, JSONValue?)] = [
            ("title", 1, 2, .string("Post number \(n)")),
            ("body", 0, 2, nil),
            ("status", 2, 1, .string(n.isMultiple(of: 3) ? "draft" : "published")),
            ("tags", 1, 1, nil),
            ("author", 0, 1, nil),
        ]
        for (i, (name, actor, counter, value)) in fields.enumerated() {
            state.fields[name] = FieldWrite(dot: Dot(actor: actors[actor], counter: counter), at: Timestamp(milliseconds: base + Int64(i) * 10), value: value)
        }
        state.wholeWrite = FieldWrite(dot: Dot(actor: actors[0], counter: 3), at: Timestamp(milliseconds: base + 100))
        return state
    }
}

/// Bounds the batches handed to the writer and not yet done, and keeps the first error.
private final class BatchWindow: @unchecked Sendable {
    private let condition = NSCondition()
    private let limit: Int
    private var inFlight = 0
    private var firstError: (any Error)?

    init(limit: Int) { self.limit = limit }

    var error: (any Error)? { condition.withLock { firstError } }

    /// Waits for room for one more batch.
    func acquire() {
        condition.withLock {
            while inFlight >= limit { condition.wait() }
            inFlight += 1
        }
    }

    /// Called from the writer thread when a batch is done.
    func release(_ error: (any Error)?) {
        condition.withLock {
            inFlight -= 1
            if firstError == nil { firstError = error }
            condition.broadcast()
        }
    }

    /// Waits until every batch is done.
    func drain() {
        condition.withLock { while inFlight > 0 { condition.wait() } }
    }
}
