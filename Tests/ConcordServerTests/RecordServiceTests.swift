import ConcordCore
import ConcordUV
import Foundation
import Logging
import Testing
@testable import ConcordServer

/// The record service on a real loop, over a store that counts what it is asked and can hold its
/// reads back: a miss is read off the loop, and the loop goes on serving meanwhile.
@Suite("Record service: reads off the loop, one record touched per command")
struct RecordServiceTests {
    /// Keeps records in memory, counts reads and writes, and answers reads from a thread of its
    /// own, after `release()` when `holding` is set.
    final class CountingStore: RecordStore, @unchecked Sendable {
        private let records = MemoryRecordStore()
        private let lock = NSLock()
        private var reads: [[RecordKey]] = []
        private var written: [[RecordKey]] = []
        var holding = false
        private let gate = DispatchSemaphore(value: 0)

        var readRequests: [[RecordKey]] { lock.withLock { reads } }
        var persistedKeys: [[RecordKey]] { lock.withLock { written } }

        func fill(_ count: Int) {
            let batch = (0..<count).map { (RecordKey(channel: "resources/posts", id: String($0)), SQLiteFreeState.make($0)) }
            records.fill(batch)
        }

        func release() { gate.signal() }

        func read(_ keys: [RecordKey], done: @escaping @Sendable (Result<[RecordState?], RecordReadFailure>) -> Void) {
            lock.withLock { reads.append(keys) }
            // Taken now, on the loop thread (the memory store is the loop's); answered elsewhere.
            nonisolated(unsafe) var answer: Result<[RecordState?], RecordReadFailure>!
            records.read(keys) { answer = $0 }
            let held = holding, gate = gate
            let result = answer!
            Thread {
                if held { gate.wait() }
                done(result)
            }.start()
        }

        func persist(_ batch: [RecordWrite], done: @escaping @Sendable (Result<[RecordWriteOutcome], RecordStoreFailure>) -> Void) {
            lock.withLock { written.append(batch.map(\.key)) }
            records.persist(batch, done: done)
        }

        func ids(in channel: String, limit: Int) throws -> [String] { try records.ids(in: channel, limit: limit) }
        func close() {}
    }

    enum SQLiteFreeState {
        static func make(_ n: Int) -> RecordState {
            var state = RecordState()
            state.version = VersionVector(["server": UInt64(n + 1)])
            return state
        }
    }

    func key(_ id: Int) -> RecordKey { RecordKey(channel: "resources/posts", id: String(id)) }

    /// Runs the loop until `finish` is called (or 5 s pass), with `start` run on the loop first.
    func runLoop(_ loop: EventLoop, _ start: (@escaping () -> Void) -> Void) throws -> Bool {
        var finished = false
        let guardTimer = try LoopTimer(loop: loop)
        guardTimer.start(afterMilliseconds: 5_000) { loop.stop() }
        start {
            finished = true
            guardTimer.close()
            loop.stop()
        }
        loop.run()
        return finished
    }

    @Test func aCommitAmongAHundredThousandStoredRecordsReadsAndWritesOnlyItsOwn() throws {
        let loop = try EventLoop()
        let store = CountingStore()
        store.fill(100_000)
        let service = try RecordService(store: store, loop: loop, logger: Logger(label: "test"), capacity: 1_000, maxActors: 32)
        var answers: [String] = []
        let finished = try runLoop(loop) { finish in
            service.commit(
                key(70_000), Commit(actor: "alice", context: VersionVector(["server": 70_001]), fields: ["title": .string("t")]),
                delete: false, dryRun: false, now: Timestamp(milliseconds: 1)
            ) { result, state in
                answers.append("\(result)")
                #expect(state?.version == VersionVector(["server": 70_001, "alice": 1]))
                // The second commit finds the record cached: no read.
                service.commit(
                    key(70_000), Commit(actor: "bob", context: state!.version, fields: nil),
                    delete: false, dryRun: false, now: Timestamp(milliseconds: 2)
                ) { result, _ in
                    answers.append("\(result)")
                    finish()
                }
            }
        }
        #expect(finished)
        #expect(answers.count == 2 && answers.allSatisfy { $0.contains("accepted") })
        #expect(store.readRequests == [[key(70_000)]])
        #expect(store.persistedKeys == [[key(70_000)], [key(70_000)]])
        #expect(service.cache.count == 1)
        service.close()
        loop.close()
    }

    @Test func whileARowIsReadTheLoopServesOtherRecordsAndTheRecordsCommandsWaitInOrder() throws {
        let loop = try EventLoop()
        let store = CountingStore()
        store.fill(10)
        let service = try RecordService(store: store, loop: loop, logger: Logger(label: "test"), capacity: 100, maxActors: 32)
        var log: [String] = []
        let finished = try runLoop(loop) { finish in
            // Record 7 comes into the cache first; then reads are held back.
            service.read(key(7), failed: {}) { _ in
                store.holding = true
                service.commit(
                    key(1), Commit(actor: "alice", context: VersionVector(["server": 2]), fields: ["title": .string("a")]),
                    delete: false, dryRun: false, now: Timestamp(milliseconds: 1)
                ) { result, _ in
                    log.append("commit 1 durable")
                    finish()
                }
                service.read(key(1), failed: {}) { state in
                    log.append("read 1 saw \(state?.version.counters.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" } ?? [])")
                }
                // A later loop turn, with record 1's read still held: record 7 is served at once.
                let timer = try! LoopTimer(loop: loop)
                timer.start(afterMilliseconds: 20) {
                    service.read(key(7), failed: {}) { state in
                        log.append("read 7 saw server:\(state?.version["server"] ?? 0)")
                        store.release()
                    }
                    timer.close()
                }
            }
        }
        #expect(finished)
        #expect(log == ["read 7 saw server:8", "read 1 saw [\"alice:1\", \"server:2\"]", "commit 1 durable"])
        #expect(store.readRequests == [[key(7)], [key(1)]])
        service.close()
        loop.close()
    }

    /// A shared store another node keeps winning: every write loses to a newer write of `rival`'s,
    /// on a field of its own, so each decision is accepted again (merged) and loses again.
    final class ContendedStore: RecordStore, @unchecked Sendable {
        private let lock = NSLock()
        private var rivalWrites: UInt64 = 0
        var persistCalls: Int { lock.withLock { Int(rivalWrites) } }
        var isShared: Bool { true }

        func read(_ keys: [RecordKey], done: @escaping @Sendable (Result<[RecordState?], RecordReadFailure>) -> Void) {
            done(.success(keys.map { _ in nil }))
        }

        func persist(_ batch: [RecordWrite], done: @escaping @Sendable (Result<[RecordWriteOutcome], RecordStoreFailure>) -> Void) {
            let n = lock.withLock {
                rivalWrites += 1
                return rivalWrites
            }
            var rival = RecordState()
            rival.version = VersionVector(["rival": n])
            rival.fields["body"] = FieldWrite(dot: Dot(actor: "rival", counter: n), at: Timestamp(milliseconds: 1), value: .int(Int64(n)))
            rival.actors = ["rival"]
            done(.success(batch.map { _ in .lost(current: rival) }))
        }

        func ids(in channel: String, limit: Int) throws -> [String] { [] }
        func close() {}
    }

    @Test func aCommitThatKeepsLosingToOtherNodesIsRefusedAfterItsLastAttempt() throws {
        let loop = try EventLoop()
        let store = ContendedStore()
        let service = try RecordService(store: store, loop: loop, logger: Logger(label: "test"), capacity: 100, maxActors: 32)
        var result: CommitResult?
        let finished = try runLoop(loop) { finish in
            service.commit(
                key(1), Commit(actor: "alice", context: VersionVector(), fields: ["title": .string("a")]),
                delete: false, dryRun: false, now: Timestamp(milliseconds: 2)
            ) { answer, _ in
                result = answer
                finish()
            }
        }
        #expect(finished)
        guard case .contended? = result else {
            Issue.record("expected the commit refused as contended, got \(String(describing: result))")
            return
        }
        #expect(store.persistCalls == RecordService.maxAttempts, "one write per decision, and no more decisions than allowed")
        service.close()
        loop.close()
    }
}
