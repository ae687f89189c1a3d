import ConcordCore
import Foundation
import Testing
@testable import ConcordSQLite

/// The durable history: a broker over the SQLite journal keeps its streams across a clean restart,
/// and starts new ones after a run that did not close the journal.
@Suite("History journal (SQLite)")
struct SQLiteHistoryJournalTests {
    static let start = Timestamp(milliseconds: 1_800_000_000_000)

    func event(_ channel: String, _ n: Int) throws -> LiveEvent {
        try LiveEvent(
            json: ["channel": .string(channel), "type": .string("updated"), "payload": .object(["ids": .array([.int(Int64(n))])])],
            now: Self.start)
    }

    func broker(_ directory: TemporaryDirectory, history: HistoryLimits = .standard) throws -> MemoryBroker {
        try FileManager.default.createDirectory(atPath: directory.path, withIntermediateDirectories: true)
        return try MemoryBroker(policy: HistoryPolicy(fallback: history), journal: SQLiteHistoryJournal(directory: directory.path))
    }

    func subscribe(_ broker: MemoryBroker, _ channel: String, since: StreamPosition? = nil) -> BrokerSubscription? {
        var answer: BrokerSubscription?
        broker.subscribe(channel, since: since) { answer = try? $0.get() }
        return answer
    }

    @Test func aCleanRestartKeepsEveryStreamItsEpochOffsetsAndHistory() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var first = try broker(directory)
        for n in 1...5 { first.publish(try event("a", n), at: Self.start) { _ in } }
        let quiet = try #require(subscribe(first, "quiet")?.position)
        let seen = try #require(subscribe(first, "a")?.position)
        first.publish(try event("a", 6), at: Self.start) { _ in }
        first.close()

        first = try broker(directory)
        defer { first.close() }
        #expect(subscribe(first, "quiet")?.position == quiet, "a stream with no events keeps its epoch too")
        let back = subscribe(first, "a", since: seen)
        guard case .recovered(let events)? = back?.recovery else { Issue.record("not recovered: \(String(describing: back?.recovery))"); return }
        #expect(events.map(\.offset) == [6])
        #expect(events.first?.ids == ["6"] && events.first?.type == "updated")
        #expect(first.usage.historyEvents == 6)
        var next: StreamPosition?
        first.publish(try event("a", 7), at: Self.start) { next = try? $0.get() }
        #expect(next == StreamPosition(offset: 7, epoch: seen.epoch), "numbering goes on in the same stream")
    }

    @Test func aRunThatDidNotCloseTheJournalLeavesNoStreamToTrust() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let crashed = try broker(directory)
        crashed.publish(try event("a", 1), at: Self.start) { _ in }
        let seen = try #require(subscribe(crashed, "a")?.position)
        // A second process would find the clean mark unset, as after kill -9: the journal of the
        // first is never closed here (it is kept alive until the end of the test).
        let restarted = try broker(directory)
        defer { restarted.close() }
        guard case .failed(let failure)? = subscribe(restarted, "a", since: seen)?.recovery else {
            Issue.record("a stream survived a run that did not close")
            return
        }
        #expect(failure == .epochChanged)
        #expect(restarted.usage.historyEvents == 0)
        withExtendedLifetime(crashed) {}
    }

    @Test func trimmedAndForgottenHistoryStaysGoneAfterARestart() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var broker = try self.broker(directory, history: HistoryLimits(maxEvents: 3, maxAgeMilliseconds: 60_000))
        for n in 1...10 { broker.publish(try event("a", n), at: Self.start) { _ in } }
        broker.sweep(now: Self.start)
        broker.close()
        broker = try self.broker(directory, history: HistoryLimits(maxEvents: 3, maxAgeMilliseconds: 60_000))
        defer { broker.close() }
        var page: HistoryPage?
        broker.history("a", since: nil, limit: 100) { page = try? $0.get() }
        #expect(page?.events.map(\.offset) == [8, 9, 10])
        #expect(page?.position.offset == 10)
    }
}
