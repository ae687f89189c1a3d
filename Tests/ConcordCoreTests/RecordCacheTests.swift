import Testing
@testable import ConcordCore

@Suite("Record cache: the working set in front of the store")
struct RecordCacheTests {
    /// A cache whose reads are recorded, to be answered by the test when it chooses.
    final class Harness {
        var reads: [RecordKey] = []
        var log: [String] = []
        var cache: RecordCache!

        init(capacity: Int) {
            cache = RecordCache(capacity: capacity) { [unowned self] key in reads.append(key) }
        }

        /// A version as `actor:counter` pairs in actor order, `-` for a record never written.
        static func text(_ state: RecordState?) -> String {
            guard let state else { return "-" }
            return state.version.counters.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ",")
        }

        /// Accesses `key`, logging `label` and the version's counter for `actor` when the body runs.
        func access(_ key: RecordKey, _ label: String, write actor: String? = nil, pin: Bool = false) {
            cache.access(key, failed: { [unowned self] reason in log.append("\(label) failed: \(reason)") }) { [unowned self] state in
                log.append("\(label) saw \(Harness.text(state))")
                if let actor {
                    var next = state ?? RecordState()
                    _ = next.version.increment(actor)
                    state = next
                }
                return pin
            }
        }
    }

    func key(_ id: Int) -> RecordKey { RecordKey(channel: "resources/posts", id: String(id)) }

    func stored(_ counters: [String: UInt64]) -> RecordState {
        var state = RecordState()
        state.version = VersionVector(counters)
        return state
    }

    @Test func aMissAsksTheStoreOnceAndRunsWaitingCommandsInOrder() {
        let h = Harness(capacity: 10)
        h.access(key(1), "a", write: "alice")
        h.access(key(1), "b", write: "bob")
        h.access(key(1), "c")
        // Three commands, one read; nothing ran before the row arrived.
        #expect(h.reads == [key(1)])
        #expect(h.log.isEmpty)
        #expect(h.cache.readsInFlight == 1)
        h.cache.loaded(key(1), .success(stored(["server": 1])))
        // Each saw the one before it.
        #expect(h.log == ["a saw server:1", "b saw alice:1,server:1", "c saw alice:1,bob:1,server:1"])
        #expect(h.cache.peek(key(1))??.version == VersionVector(["server": 1, "alice": 1, "bob": 1]))
        #expect(h.cache.statistics.hits == 0 && h.cache.statistics.misses == 3 && h.cache.statistics.evictions == 0)
    }

    @Test func aHitRunsAtOnceWithoutAskingTheStore() {
        let h = Harness(capacity: 10)
        h.access(key(1), "a")
        h.cache.loaded(key(1), .success(nil))
        h.access(key(1), "b", write: "alice")
        h.access(key(1), "c")
        #expect(h.reads == [key(1)])
        #expect(h.log == ["a saw -", "b saw -", "c saw alice:1"])
        #expect(h.cache.statistics.hits == 2)
        #expect(h.cache.statistics.misses == 1)
    }

    @Test func theLeastRecentlyUsedRecordIsEvictedAndReadAgainWhenUsed() {
        let h = Harness(capacity: 2)
        for id in 1...2 {
            h.access(key(id), "load \(id)")
            h.cache.loaded(key(id), .success(stored(["s": UInt64(id)])))
        }
        h.access(key(1), "touch 1")  // 2 is now the least recent
        h.access(key(3), "load 3")
        h.cache.loaded(key(3), .success(nil))
        #expect(h.cache.count == 2)
        #expect(h.cache.peek(key(2)) == nil)
        #expect(h.cache.peek(key(1)) != nil)
        #expect(h.cache.statistics.evictions == 1)
        // Used again, the evicted record is read again and seen as the store has it.
        h.access(key(2), "again 2")
        #expect(h.reads.last == key(2))
        h.cache.loaded(key(2), .success(stored(["s": 2])))
        #expect(h.log.last == "again 2 saw s:2")
    }

    @Test func aRecordWithAWriteNotYetDurableIsNeverEvicted() {
        let h = Harness(capacity: 1)
        h.access(key(1), "commit", write: "alice", pin: true)
        h.cache.loaded(key(1), .success(nil))
        for id in 2...4 {
            h.access(key(id), "load \(id)")
            h.cache.loaded(key(id), .success(nil))
        }
        // Record 1 stays (its write is not in the store yet); each other record goes once its command ran.
        #expect(h.cache.peek(key(1))??.version == VersionVector(["alice": 1]))
        #expect(h.cache.count == 1)
        #expect(h.cache.statistics.evictions == 3)
        #expect(h.log.suffix(3) == ["load 2 saw -", "load 3 saw -", "load 4 saw -"])
        // Durable now, it is an ordinary record: the next one read takes its place.
        h.cache.persisted(key(1))
        h.access(key(5), "load 5")
        h.cache.loaded(key(5), .success(nil))
        #expect(h.cache.peek(key(1)) == nil)
        #expect(h.cache.peek(key(5)) != nil)
    }

    @Test func aFailedReadFailsEveryWaitingCommandAndTheNextOneReadsAgain() {
        let h = Harness(capacity: 4)
        h.access(key(1), "a")
        h.access(key(1), "b")
        h.cache.loaded(key(1), .failure(RecordReadFailure("disk I/O error")))
        #expect(h.log == ["a failed: disk I/O error", "b failed: disk I/O error"])
        #expect(h.cache.count == 0)
        h.access(key(1), "c")
        #expect(h.reads == [key(1), key(1)])
        h.cache.loaded(key(1), .success(nil))
        #expect(h.log.last == "c saw -")
    }

    @Test func aCommandOnTheSameRecordFromInsideABodyRunsAfterIt() {
        let h = Harness(capacity: 4)
        h.access(key(1), "load")
        h.cache.loaded(key(1), .success(nil))
        h.cache.access(key(1), failed: { _ in }) { state in
            h.log.append("outer")
            h.access(key(1), "inner")
            state = self.stored(["outer": 1])
            h.log.append("outer done")
            return false
        }
        #expect(h.log == ["load saw -", "outer", "outer done", "inner saw outer:1"])
    }

    @Test func answersForARecordNoOneAskedForAreIgnored() {
        let h = Harness(capacity: 4)
        h.cache.loaded(key(9), .success(stored(["x": 1])))
        #expect(h.cache.count == 0)
    }

    @Test func accessAllGathersEveryStateInKeyOrder() {
        let h = Harness(capacity: 10)
        h.access(key(1), "warm")
        h.cache.loaded(key(1), .success(stored(["a": 1])))
        var gathered: [RecordState?]?
        h.cache.accessAll([key(2), key(1), key(3)], failed: { _ in }) { gathered = $0 }
        #expect(gathered == nil)
        h.cache.loaded(key(3), .success(nil))
        h.cache.loaded(key(2), .success(stored(["b": 2])))
        #expect(gathered?.map { $0?.version } == [VersionVector(["b": 2]), VersionVector(["a": 1]), nil])
    }

    /// The cost of a command is the record's, not the store's: with 100,000 records cached, a
    /// command on one more asks the store for that one alone, and only it changes.
    @Test func aCommitAmongManyCachedRecordsTouchesOnlyItsOwn() throws {
        var reads: [RecordKey] = []
        let cache = RecordCache(capacity: 200_000) { reads.append($0) }
        for id in 0..<100_000 {
            cache.access(key(id), failed: { _ in }) { _ in false }
            cache.loaded(key(id), .success(stored(["s": 1])))
        }
        reads.removeAll()
        let rules = RecordRules()
        var outcome: CommitOutcome?
        cache.access(key(100_000), failed: { _ in }) { state in
            outcome = try? rules.commit(
                &state, Commit(actor: "alice", context: VersionVector(), fields: ["title": .string("t")]), now: Timestamp(milliseconds: 1))
            return true
        }
        #expect(reads == [key(100_000)])
        cache.loaded(key(100_000), .success(nil))
        #expect(outcome?.isAccepted == true)
        #expect(cache.count == 100_001)
        #expect(cache.statistics.evictions == 0)
        #expect(cache.peek(key(100_000))??.version == VersionVector(["alice": 1]))
        #expect(cache.peek(key(99_999))??.version == VersionVector(["s": 1]))
    }
}
