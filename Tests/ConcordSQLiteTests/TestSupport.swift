import ConcordCore
import Foundation
@testable import ConcordSQLite

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("concord-store-\(UUID().uuidString)").path
    }

    var storeFile: String { path + "/" + SQLiteRecordStore.fileName }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Collects `done` calls from the writer thread, in the order they happen.
final class Completions: @unchecked Sendable {
    private let condition = NSCondition()
    private var results: [(Int, (any Error)?)] = []

    func callback(_ tag: Int) -> @Sendable ((any Error)?) -> Void {
        { error in
            self.condition.lock()
            self.results.append((tag, error))
            self.condition.broadcast()
            self.condition.unlock()
        }
    }

    /// Waits (up to 30 s, so a bug fails instead of hanging) until `count` callbacks have run.
    func wait(for count: Int) -> [(Int, (any Error)?)] {
        let deadline = Date().addingTimeInterval(30)
        condition.lock()
        defer { condition.unlock() }
        while results.count < count, condition.wait(until: deadline) {}
        return results
    }

    var all: [(Int, (any Error)?)] {
        condition.lock()
        defer { condition.unlock() }
        return results
    }
}

/// Persists one batch and waits for it.
func persistAndWait(_ store: SQLiteRecordStore, _ batch: [(RecordKey, RecordState)]) -> (any Error)? {
    let completions = Completions()
    store.persist(batch, done: completions.callback(0))
    let results = completions.wait(for: 1)
    return results.isEmpty ? SQLiteStoreError.closed : results[0].1
}

func dictionary(_ records: [(RecordKey, RecordState)]) -> [RecordKey: RecordState] {
    Dictionary(records, uniquingKeysWith: { _, last in last })
}

/// Reads `keys` through the store's reader thread and waits for the answer.
func readAndWait(_ store: SQLiteRecordStore, _ keys: [RecordKey]) -> Result<[RecordState?], RecordReadFailure> {
    let answered = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var answer: Result<[RecordState?], RecordReadFailure>?
    store.read(keys) { result in
        answer = result
        answered.signal()
    }
    answered.wait()
    return answer!
}

/// The stored states of `keys`, keyed, leaving out records never stored.
func readStored(_ store: SQLiteRecordStore, _ keys: [RecordKey]) throws -> [RecordKey: RecordState] {
    let states = try readAndWait(store, keys).get()
    return Dictionary(uniqueKeysWithValues: zip(keys, states).compactMap { key, state in state.map { (key, $0) } })
}
