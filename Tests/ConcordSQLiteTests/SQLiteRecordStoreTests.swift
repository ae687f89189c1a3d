import ConcordCore
import Foundation
import Testing
@testable import ConcordSQLite

@Suite("SQLite record store: durability and group commit")
struct SQLiteRecordStoreTests {
    /// States as the book makes them: fields with and without values, a whole write, a fold, a tombstone.
    func sampleStates() throws -> [(RecordKey, RecordState)] {
        var book = RecordBook(maxActors: 2)
        let posts = (1...3).map { RecordKey(channel: "resources/posts", id: String($0)) }
        for (i, actor) in ["alice", "bob", "carol"].enumerated() {
            for key in posts {
                let context = book.state(of: key)?.version ?? VersionVector()
                _ = try book.commit(
                    key, Commit(actor: actor, context: context, fields: i == 1 ? nil : ["title": .string("\(actor) \(key.id)"), "body": nil]),
                    now: Timestamp(milliseconds: Int64(1000 * i)))
            }
        }
        _ = try book.delete(posts[2], actor: "dave", context: book.state(of: posts[2])!.version, now: Timestamp(milliseconds: 9000))
        let odd = RecordKey(channel: "chat/room-1", id: "")
        _ = try book.commit(odd, Commit(actor: "eve", context: VersionVector(), fields: ["x": .object(["n": .double(1.5)])]), now: Timestamp(milliseconds: 1))
        return book.records.map { ($0.key, $0.value) }
    }

    @Test func persistedStatesAreLoadedAfterReopening() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let states = try sampleStates()
        let store = try SQLiteRecordStore.open(directory: dir.path + "/nested/data")
        #expect(try readStored(store, states.map(\.0)).isEmpty)
        #expect(persistAndWait(store, states) == nil)
        store.close()

        let reopened = try SQLiteRecordStore(directory: dir.path + "/nested/data")
        defer { reopened.close() }
        let loaded = try readStored(reopened, states.map(\.0))
        #expect(loaded.count == states.count)
        #expect(loaded == dictionary(states))
        #expect(loaded[RecordKey(channel: "resources/posts", id: "1")]?.folds == 1)
        #expect(loaded[RecordKey(channel: "resources/posts", id: "3")]?.tombstone != nil)
        // A record never stored reads as nil, beside stored ones in the same request.
        let missing = RecordKey(channel: "resources/posts", id: "99")
        #expect(try readAndWait(reopened, [missing, states[0].0]).get() == [nil, states[0].1])
    }

    @Test func idsThatDifferOnlyAfterANulStayDistinct() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var a = RecordState(), b = RecordState()
        a.version = VersionVector(["a": 1])
        b.version = VersionVector(["b": 1])
        let store = try SQLiteRecordStore(directory: dir.path)
        #expect(persistAndWait(store, [(RecordKey(channel: "c", id: "x"), a), (RecordKey(channel: "c", id: "x\u{0}y"), b)]) == nil)
        store.close()
        let reopened = try SQLiteRecordStore(directory: dir.path)
        defer { reopened.close() }
        #expect(
            try readStored(reopened, [RecordKey(channel: "c", id: "x"), RecordKey(channel: "c", id: "x\u{0}y")]) == [
                RecordKey(channel: "c", id: "x"): a, RecordKey(channel: "c", id: "x\u{0}y"): b,
            ])
        #expect(try reopened.ids(in: "c", limit: 10) == ["x", "x\u{0}y"])
    }

    @Test func manyBatchesInFlightCompleteInOrderAndShareTransactions() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try SQLiteRecordStore(directory: dir.path)
        let completions = Completions()
        var expected: [RecordKey: RecordState] = [:]
        let batches = 400
        // Batches overlap on keys, so the final state of each key is its last batch's.
        for n in 0..<batches {
            let batch = (0..<5).map { j -> (RecordKey, RecordState) in
                var state = RecordState()
                state.version = VersionVector(["writer": UInt64(n + 1)])
                return (RecordKey(channel: "resources/posts", id: String((n * 3 + j) % 50)), state)
            }
            for (key, state) in batch { expected[key] = state }
            store.persist(batch, done: completions.callback(n))
        }
        let results = completions.wait(for: batches)
        #expect(results.map(\.0) == Array(0..<batches))
        #expect(results.allSatisfy { $0.1 == nil })
        // Enqueueing is far faster than a synced commit: the writer must have grouped batches.
        #expect(store.writer.groupsWritten < batches)
        store.close()

        let reopened = try SQLiteRecordStore(directory: dir.path)
        defer { reopened.close() }
        #expect(try readStored(reopened, Array(expected.keys)) == expected)
        #expect(try reopened.ids(in: "resources/posts", limit: 1000).count == expected.count)
    }

    @Test func persistCallsWhileTheWriterWorksAreAllWritten() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try SQLiteRecordStore(directory: dir.path)
        let completions = Completions()
        // One producer thread keeps persisting while earlier groups are being synced, as the
        // server's loop does once per turn.
        var n = 0
        let start = Date()
        while Date().timeIntervalSince(start) < 0.5 || completions.all.count < 3 {
            var state = RecordState()
            state.version = VersionVector(["loop": UInt64(n + 1)])
            store.persist([(RecordKey(channel: "turns", id: String(n)), state)], done: completions.callback(n))
            n += 1
            if n.isMultiple(of: 20) { usleep(1000) }
        }
        let results = completions.wait(for: n)
        #expect(results.count == n)
        #expect(results.map(\.0) == Array(0..<n))
        #expect(results.allSatisfy { $0.1 == nil })
        store.close()

        let reopened = try SQLiteRecordStore(directory: dir.path)
        defer { reopened.close() }
        #expect(try reopened.ids(in: "turns", limit: .max).count == n)
    }

    @Test func closeWritesEveryQueuedBatchBeforeReturning() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try SQLiteRecordStore(directory: dir.path)
        let completions = Completions()
        for n in 0..<100 {
            store.persist([(RecordKey(channel: "c", id: String(n)), RecordState())], done: completions.callback(n))
        }
        store.close()
        // No waiting: close itself waited for the queue.
        #expect(completions.all.count == 100)
        #expect(completions.all.allSatisfy { $0.1 == nil })
        let reopened = try SQLiteRecordStore(directory: dir.path)
        defer { reopened.close() }
        #expect(try reopened.ids(in: "c", limit: .max).count == 100)
    }

    @Test func afterCloseBatchesAndReadsFailAtOnce() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try SQLiteRecordStore(directory: dir.path)
        store.close()
        store.close()
        let completions = Completions()
        store.persist([], done: completions.callback(0))
        #expect(completions.all.count == 1)
        #expect(completions.all.first?.1 as? SQLiteStoreError == .closed)
        guard case .failure(let failure) = readAndWait(store, [RecordKey(channel: "c", id: "1")]) else {
            Issue.record("a read on a closed store must fail")
            return
        }
        #expect(failure.reason == SQLiteStoreError.closed.description)
        #expect(throws: SQLiteStoreError.closed) { try store.ids(in: "c", limit: 1) }
    }

    @Test func aFailedGroupReportsItsErrorAndLaterBatchesStillWrite() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try SQLiteRecordStore(directory: dir.path)
        // A full disk, simulated: the database may not grow past its current size.
        try store.database.execute("PRAGMA max_page_count = 4")
        var big = RecordState()
        big.fields["body"] = FieldWrite(
            dot: Dot(actor: "a", counter: 1), at: Timestamp(milliseconds: 0), value: .string(String(repeating: "x", count: 100_000)))
        let failed = persistAndWait(store, [(RecordKey(channel: "c", id: "big"), big)])
        guard case .sqlite(let code, let message, _) = failed as? SQLiteStoreError else {
            Issue.record("expected a SQLite error, got \(String(describing: failed))")
            return
        }
        #expect(code & 0xFF == 13)  // SQLITE_FULL
        #expect(message.contains("full"))

        try store.database.execute("PRAGMA max_page_count = 1000000")
        #expect(persistAndWait(store, [(RecordKey(channel: "c", id: "small"), RecordState())]) == nil)
        store.close()
        let reopened = try SQLiteRecordStore(directory: dir.path)
        defer { reopened.close() }
        #expect(try reopened.ids(in: "c", limit: 10) == ["small"])
    }
}
