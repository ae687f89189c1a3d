import ConcordCore
import Foundation
import Testing
@testable import ConcordSQLite

/// What every `RecordStore` must do, run against each implementation through a factory: the
/// in-memory store of `--memory` and the SQLite store of a data directory (a Redis store joins the
/// list when it exists).
@Suite("Record store contract")
struct RecordStoreContractTests {
    /// Makes a fresh, empty store and a way to reopen the same storage (nil when nothing outlives
    /// the process), and removes what it made.
    struct Factory: CustomTestStringConvertible, Sendable {
        let name: String
        let make: @Sendable () throws -> (store: any RecordStore, reopen: (@Sendable () throws -> any RecordStore)?, cleanup: @Sendable () -> Void)
        var testDescription: String { name }
    }

    static let factories: [Factory] = [
        Factory(name: "memory") { (MemoryRecordStore(), nil, {}) },
        Factory(name: "sqlite") {
            let dir = TemporaryDirectory()
            return (try SQLiteRecordStore(directory: dir.path), { try SQLiteRecordStore(directory: dir.path) }, { dir.remove() })
        },
    ]

    func key(_ channel: String, _ id: String) -> RecordKey { RecordKey(channel: channel, id: id) }

    func state(_ counters: [String: UInt64], field: String? = nil) -> RecordState {
        var state = RecordState()
        state.version = VersionVector(counters)
        if let field, let (actor, counter) = counters.first {
            state.fields[field] = FieldWrite(dot: Dot(actor: actor, counter: counter), at: Timestamp(milliseconds: 1_000), value: .string("v"))
        }
        return state
    }

    @Test(arguments: factories)
    func aRecordNeverStoredReadsAsNil(_ factory: Factory) throws {
        let (store, _, cleanup) = try factory.make()
        defer { store.close(); cleanup() }
        #expect(try readAndWait(store, [key("c", "1"), key("c", "2")]).get() == [nil, nil])
        #expect(try readAndWait(store, []).get() == [])
    }

    @Test(arguments: factories)
    func aPersistedStateReadsBackAsItWasInTheOrderAsked(_ factory: Factory) throws {
        let (store, _, cleanup) = try factory.make()
        defer { store.close(); cleanup() }
        let a = state(["alice": 1], field: "title"), b = state(["bob": 2])
        #expect(persistAndWait(store, [(key("c", "a"), a), (key("c", "b"), b)]) == nil)
        #expect(try readAndWait(store, [key("c", "b"), key("c", "missing"), key("c", "a")]).get() == [b, nil, a])
    }

    @Test(arguments: factories)
    func theLastWriteOfAKeyWinsAcrossBatchesAndWithinOne(_ factory: Factory) throws {
        let (store, _, cleanup) = try factory.make()
        defer { store.close(); cleanup() }
        let completions = Completions()
        store.persist([(key("c", "x"), state(["a": 1])), (key("c", "x"), state(["a": 2]))], done: completions.callback(0))
        store.persist([(key("c", "x"), state(["a": 3]))], done: completions.callback(1))
        let done = completions.wait(for: 2)
        // Batches complete in the order they were given.
        #expect(done.map(\.0) == [0, 1])
        #expect(try readAndWait(store, [key("c", "x")]).get() == [state(["a": 3])])
    }

    @Test(arguments: factories)
    func idsListOneChannelInIDOrderUpToTheLimit(_ factory: Factory) throws {
        let (store, _, cleanup) = try factory.make()
        defer { store.close(); cleanup() }
        let batch =
            ["3", "1", "2"].map { (key("demo/posts", $0), state(["a": 1])) } + [
                (key("demo/postsX", "9"), state(["a": 1])), (key("other", "0"), state(["a": 1])),
            ]
        #expect(persistAndWait(store, batch) == nil)
        #expect(try store.ids(in: "demo/posts", limit: 10) == ["1", "2", "3"])
        #expect(try store.ids(in: "demo/posts", limit: 2) == ["1", "2"])
        #expect(try store.ids(in: "nothing", limit: 10) == [])
    }

    @Test(arguments: factories)
    func whatIsDurableSurvivesAReopen(_ factory: Factory) throws {
        let (store, reopen, cleanup) = try factory.make()
        defer { cleanup() }
        let a = state(["alice": 7], field: "body")
        #expect(persistAndWait(store, [(key("c", "a"), a)]) == nil)
        store.close()
        guard let reopen else { return }  // memory: nothing outlives the store, by definition
        let again = try reopen()
        defer { again.close() }
        #expect(try readAndWait(again, [key("c", "a")]).get() == [a])
    }

    @Test(arguments: factories)
    func afterCloseReadsAndWritesFailAtOnce(_ factory: Factory) throws {
        let (store, _, cleanup) = try factory.make()
        defer { cleanup() }
        store.close()
        store.close()
        #expect(persistAndWait(store, [(key("c", "a"), state(["a": 1]))]) != nil)
        guard case .failure = readAndWait(store, [key("c", "a")]) else {
            Issue.record("a read on a closed store must fail")
            return
        }
    }
}
