import ConcordCore
import ConcordRedis
import ConcordSQLite
import ConcordTestSupport
import ConcordUV
import Foundation
import Testing

/// A store under test and the thread it must be called on: the caller's for memory and SQLite,
/// the loop's for Redis (whose answers come later, on the loop).
final class StoreSubject: @unchecked Sendable {
    let store: any RecordStore
    private let onThread: (@escaping () -> Void) throws -> Void
    private let cleanup: () -> Void

    init(_ store: any RecordStore, onThread: @escaping (@escaping () -> Void) throws -> Void = { $0() }, cleanup: @escaping () -> Void = {}) {
        self.store = store
        self.onThread = onThread
        self.cleanup = cleanup
    }

    func run(_ body: @escaping () -> Void) throws { try onThread(body) }

    func persist(_ writes: [RecordWrite]) throws -> Result<[RecordWriteOutcome], RecordStoreFailure> {
        let answered = Answer<Result<[RecordWriteOutcome], RecordStoreFailure>>()
        try run { [store] in store.persist(writes) { answered.set($0) } }
        return try answered.wait()
    }

    func read(_ keys: [RecordKey]) throws -> Result<[RecordState?], RecordReadFailure> {
        let answered = Answer<Result<[RecordState?], RecordReadFailure>>()
        try run { [store] in store.read(keys) { answered.set($0) } }
        return try answered.wait()
    }

    func close() throws { try run { [store] in store.close() } }

    func finish() {
        try? close()
        cleanup()
    }
}

/// One answer from any thread, waited for up to 10 s (a bug fails instead of hanging).
final class Answer<T>: @unchecked Sendable {
    private let condition = NSCondition()
    private var value: T?

    func set(_ new: T) {
        condition.lock()
        value = new
        condition.broadcast()
        condition.unlock()
    }

    func wait() throws -> T {
        let deadline = Date().addingTimeInterval(10)
        condition.lock()
        defer { condition.unlock() }
        while value == nil, condition.wait(until: deadline) {}
        guard let value else { throw LoopThread.TimedOut() }
        return value
    }
}

/// What every `RecordStore` must do, run against each implementation through a factory: the
/// in-memory store of `--memory`, the SQLite store of a data directory, and Redis.
@Suite("Record store contract")
struct RecordStoreContractTests {
    /// Makes a fresh, empty store and a way to open the same storage again (nil when nothing
    /// outlives the store); `finish` on each removes what it made.
    struct Factory: CustomTestStringConvertible, Sendable {
        let name: String
        let make: @Sendable () throws -> (subject: StoreSubject, reopen: (@Sendable () throws -> StoreSubject)?)
        var testDescription: String { name }
    }

    static let factories: [Factory] = [
        Factory(name: "memory") { (StoreSubject(MemoryRecordStore()), nil) },
        Factory(name: "sqlite") {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("concord-store-\(UUID().uuidString)").path
            let remove = { try? FileManager.default.removeItem(atPath: dir) }
            return (
                StoreSubject(try SQLiteRecordStore(directory: dir), cleanup: { remove() }),
                { StoreSubject(try SQLiteRecordStore(directory: dir), cleanup: { remove() }) }
            )
        },
        Factory(name: "redis") {
            let redis = try RedisServer()
            let first = try RedisRecordHarness(port: redis.port)
            return (
                first.subject(cleanup: { _ = redis }),
                { try RedisRecordHarness(port: redis.port).subject(cleanup: { redis.stop() }) }
            )
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
        let (subject, _) = try factory.make()
        defer { subject.finish() }
        #expect(try subject.read([key("c", "1"), key("c", "2")]).get() == [nil, nil])
        #expect(try subject.read([]).get() == [])
    }

    @Test(arguments: factories)
    func aPersistedStateReadsBackAsItWasInTheOrderAsked(_ factory: Factory) throws {
        let (subject, _) = try factory.make()
        defer { subject.finish() }
        let a = state(["alice": 1], field: "title"), b = state(["bob": 2])
        #expect(try subject.persist([RecordWrite(key("c", "a"), a, base: nil), RecordWrite(key("c", "b"), b, base: nil)]).get() == [.stored, .stored])
        #expect(try subject.read([key("c", "b"), key("c", "missing"), key("c", "a")]).get() == [b, nil, a])
    }

    @Test(arguments: factories)
    func writesDecidedOneOnAnotherAreStoredInOrderAcrossBatchesAndWithinOne(_ factory: Factory) throws {
        let (subject, _) = try factory.make()
        defer { subject.finish() }
        let s1 = state(["a": 1]), s2 = state(["a": 2]), s3 = state(["a": 3])
        let order = Mutexed<[Int]>([])
        let first = Answer<Result<[RecordWriteOutcome], RecordStoreFailure>>()
        let second = Answer<Result<[RecordWriteOutcome], RecordStoreFailure>>()
        try subject.run { [store = subject.store] in
            store.persist([RecordWrite(key("c", "x"), s1, base: nil), RecordWrite(key("c", "x"), s2, base: s1)]) {
                order.append(0)
                first.set($0)
            }
            store.persist([RecordWrite(key("c", "x"), s3, base: s2)]) {
                order.append(1)
                second.set($0)
            }
        }
        #expect(try first.wait().get() == [.stored, .stored])
        #expect(try second.wait().get() == [.stored])
        // Batches complete in the order they were given.
        #expect(order.value == [0, 1])
        #expect(try subject.read([key("c", "x")]).get() == [s3])
    }

    @Test(arguments: factories)
    func aWriteOnAStateTheStoreNoLongerHoldsLosesOnlyWhereNodesShareTheStore(_ factory: Factory) throws {
        let (subject, _) = try factory.make()
        defer { subject.finish() }
        let theirs = state(["bob": 1], field: "title"), mine = state(["alice": 1], field: "title")
        #expect(try subject.persist([RecordWrite(key("c", "x"), theirs, base: nil)]).get() == [.stored])
        // Decided on "never written", which the store no longer holds.
        let outcome = try subject.persist([RecordWrite(key("c", "x"), mine, base: nil)]).get()
        if subject.store.isShared {
            #expect(outcome == [.lost(current: theirs)])
            #expect(try subject.read([key("c", "x")]).get() == [theirs])
            // Decided on a state it never held, with the record there: lost too.
            #expect(try subject.persist([RecordWrite(key("c", "x"), mine, base: mine)]).get() == [.lost(current: theirs)])
        } else {
            // One node owns the store: its cache is always right, and the base is not compared.
            #expect(outcome == [.stored])
            #expect(try subject.read([key("c", "x")]).get() == [mine])
        }
    }

    @Test(arguments: factories)
    func idsListOneChannelInIDOrderUpToTheLimit(_ factory: Factory) throws {
        let (subject, _) = try factory.make()
        defer { subject.finish() }
        let batch =
            ["3", "1", "2"].map { RecordWrite(key("demo/posts", $0), state(["a": 1]), base: nil) } + [
                RecordWrite(key("demo/postsX", "9"), state(["a": 1]), base: nil), RecordWrite(key("other", "0"), state(["a": 1]), base: nil),
            ]
        #expect(try subject.persist(batch).get().count == 5)
        #expect(try subject.store.ids(in: "demo/posts", limit: 10) == ["1", "2", "3"])
        #expect(try subject.store.ids(in: "demo/posts", limit: 2) == ["1", "2"])
        #expect(try subject.store.ids(in: "nothing", limit: 10) == [])
    }

    @Test(arguments: factories)
    func whatIsDurableSurvivesAReopen(_ factory: Factory) throws {
        let (subject, reopen) = try factory.make()
        let a = state(["alice": 7], field: "body")
        #expect(try subject.persist([RecordWrite(key("c", "a"), a, base: nil)]).get() == [.stored])
        try subject.close()
        guard let reopen else { return subject.finish() }  // memory: nothing outlives the store, by definition
        let again = try reopen()
        defer {
            subject.finish()
            again.finish()
        }
        #expect(try again.read([key("c", "a")]).get() == [a])
    }

    @Test(arguments: factories)
    func afterCloseReadsAndWritesFailAtOnce(_ factory: Factory) throws {
        let (subject, _) = try factory.make()
        defer { subject.finish() }
        try subject.close()
        try subject.close()
        guard case .failure = try subject.persist([RecordWrite(key("c", "a"), state(["a": 1]), base: nil)]) else {
            Issue.record("a write on a closed store must fail")
            return
        }
        guard case .failure = try subject.read([key("c", "a")]) else {
            Issue.record("a read on a closed store must fail")
            return
        }
    }
}
