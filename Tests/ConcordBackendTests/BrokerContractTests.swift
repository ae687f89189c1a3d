import ConcordCore
import ConcordRedis
import ConcordTestSupport
import Foundation
import Testing

/// What every `Broker` must do, run against each implementation through a factory: the
/// in-memory broker, and the Redis broker on a real `redis-server`. Every broker runs on a loop
/// thread of its own, as in the server; the tests wait for its answers and events.
@Suite("Broker contract", .serialized)
struct BrokerContractTests {
    struct Factory: CustomTestStringConvertible, Sendable {
        let name: String
        /// A broker with this history policy and recovery bound, on `thread` (`now` is its wall
        /// clock), and what releases what it holds on the loop.
        let make: @Sendable (LoopThread, HistoryPolicy, Int, @escaping () -> Timestamp) throws -> (any Broker, () -> Void)
        var testDescription: String { name }

        func make(history: HistoryLimits = .standard, maxRecovery: Int = 1000) throws -> Harness {
            try Harness { thread, now in try make(thread, HistoryPolicy(fallback: history), maxRecovery, now) }
        }
    }

    static let factories: [Factory] = [
        Factory(name: "memory") { thread, policy, maxRecovery, _ in
            try thread.ask { answer in answer((try! MemoryBroker(policy: policy, maxRecovery: maxRecovery), {})) }
        },
        Factory(name: "redis") { thread, policy, maxRecovery, now in
            let handle = try SharedRedis.acquire()
            let node = try SharedRedis.node(on: thread, handle: handle, prefix: SharedRedis.freshPrefix())
            let broker = try thread.ask { answer in answer(RedisBroker(node: node, policy: policy, maxRecovery: maxRecovery, now: now)) }
            return (broker, { withExtendedLifetime(handle) { node.close() } })
        },
    ]

    static let start = Timestamp(milliseconds: 1_800_000_000_000)

    /// A broker on its loop thread, with what it delivered, in order.
    final class Harness: @unchecked Sendable {
        let thread: LoopThread
        private(set) var broker: (any Broker)!
        private var release: () -> Void = {}
        let delivered = Mutexed<[PublishedEvent]>([])
        /// The wall clock the broker reads: the time of the last publish or sweep.
        let clock = Mutexed(BrokerContractTests.start)
        private var barriers = 0

        init(_ make: (LoopThread, @escaping () -> Timestamp) throws -> (any Broker, () -> Void)) throws {
            thread = try LoopThread()
            (broker, release) = try make(thread) { [clock] in clock.value }
            try thread.sync { [self] in broker.onEvent = { [delivered] in delivered.append($0) } }
        }

        deinit {
            try? thread.sync { [broker, release] in
                broker?.close()
                release()
            }
            thread.stop()
        }

        /// Offsets delivered on `channel` (every channel but the barrier's when nil).
        func offsets(_ channel: String? = nil) -> [UInt64] {
            delivered.value.filter { channel == nil ? $0.event.channel != Self.barrier : $0.event.channel == channel }.map(\.position.offset)
        }

        var events: [PublishedEvent] { delivered.value.filter { $0.event.channel != Self.barrier } }

        /// Publishes and returns the position `done` gave, nil on an error.
        @discardableResult
        func publish(_ event: LiveEvent, at: Timestamp = BrokerContractTests.start) throws -> StreamPosition? {
            clock.update { $0 = at }
            return try thread.ask { [self] answer in broker.publish(event, at: at) { answer(try? $0.get()) } }
        }

        func subscribe(_ channel: String, since: StreamPosition? = nil) throws -> BrokerSubscription? {
            try thread.ask { [self] answer in broker.subscribe(channel, since: since) { answer(try? $0.get()) } }
        }

        func unsubscribe(_ channel: String) throws {
            try thread.sync { [self] in broker.unsubscribe(channel) }
        }

        func sweep(now: Timestamp) throws {
            clock.update { $0 = now }
            try thread.sync { [self] in broker.sweep(now: now) }
        }

        func history(_ channel: String, since: StreamPosition?, limit: Int) throws -> HistoryPage? {
            try thread.ask { [self] answer in broker.history(channel, since: since, limit: limit) { answer(try? $0.get()) } }
        }

        var usage: BrokerUsage { get throws { try thread.ask { [self] answer in answer(broker.usage) } } }

        static let barrier = "barrier/marker"

        /// Waits until every event published before it has been delivered: publishes on a channel
        /// of its own and waits for that event (Redis delivers a connection's messages in order).
        func settle() throws {
            if barriers == 0 { _ = try subscribe(Self.barrier) }
            barriers += 1
            try publish(try LiveEvent(json: ["channel": .string(Self.barrier), "type": .string("mark")], now: BrokerContractTests.start), at: clock.value)
            try waitUntil("the barrier event") { delivered.value.filter { $0.event.channel == Self.barrier }.count == barriers }
        }

        func waitUntil(_ what: String, _ condition: () -> Bool) throws {
            let deadline = Date().addingTimeInterval(10)
            while !condition() {
                guard Date() < deadline else { throw RedisServer.Failure("timed out waiting for \(what)") }
                usleep(1_000)
            }
        }
    }

    func event(_ channel: String, _ n: Int, type: String = "updated", ids: [String]? = nil) throws -> LiveEvent {
        var payload: [String: JSONValue] = ["n": .int(Int64(n))]
        if let ids { payload["ids"] = .array(ids.map(JSONValue.string)) }
        return try LiveEvent(
            json: ["channel": .string(channel), "type": .string(type), "payload": .object(payload)], now: Self.start)
    }

    /// The offsets a recovery replays, or why it failed.
    func recovered(_ subscription: BrokerSubscription?) -> Result<[UInt64], RecoveryFailure>? {
        switch subscription?.recovery {
        case .recovered(let events)?: return .success(events.map(\.offset))
        case .failed(let failure)?: return .failure(failure)
        case nil: return nil
        }
    }

    // MARK: Streams and delivery

    @Test(arguments: factories)
    func offsetsCountUpFromOnePerChannelEachUnderItsOwnEpoch(_ factory: Factory) throws {
        let h = try factory.make()
        let a1 = try h.publish(try event("a", 1)), a2 = try h.publish(try event("a", 2)), b1 = try h.publish(try event("b", 1))
        #expect(a1?.offset == 1 && a2?.offset == 2 && b1?.offset == 1)
        #expect(a1?.epoch == a2?.epoch && a1?.epoch.isEmpty == false && b1?.epoch.isEmpty == false)
        #expect(try h.subscribe("a")?.position == a2)
    }

    @Test(arguments: factories)
    func subscribingAnswersTheCurrentPositionAndDeliversWhatComesAfterInOrder(_ factory: Factory) throws {
        let h = try factory.make()
        try h.publish(try event("a", 0))
        let start = try h.subscribe("a")
        #expect(start?.position.offset == 1)
        #expect(start?.recovery == nil, "no recovery was asked for")
        for n in 1...5 { try h.publish(try event("a", n)) }
        try h.publish(try event("elsewhere", 9))
        try h.settle()
        #expect(h.events.map(\.event.channel) == Array(repeating: "a", count: 5))
        #expect(h.offsets() == [2, 3, 4, 5, 6])
        #expect(h.events.map { $0.event.body["payload"]?["n"] } == (1...5).map { .int(Int64($0)) })
        #expect(h.events.allSatisfy { $0.position.epoch == start?.position.epoch })
    }

    @Test(arguments: factories)
    func thePublishersAnswerComesBeforeItsOwnEvent(_ factory: Factory) throws {
        let h = try factory.make()
        _ = try h.subscribe("a")
        let log = Mutexed<[String]>([])
        let broker = h.broker!
        try h.thread.sync {
            broker.onEvent = { log.append("event \($0.position.offset)") }
            for n in 1...50 {
                broker.publish(try! self.event("a", n), at: Self.start) { log.append("done \((try? $0.get())?.offset ?? 0)") }
            }
        }
        try h.waitUntil("50 events") { log.value.count == 100 }
        for n in 1...50 {
            let done = log.value.firstIndex(of: "done \(n)"), event = log.value.firstIndex(of: "event \(n)")
            #expect(done != nil && event != nil && done! < event!, "publish \(n): \(log.value)")
        }
        #expect(log.value.filter { $0.hasPrefix("event") } == (1...50).map { "event \($0)" })
    }

    @Test(arguments: factories)
    func afterUnsubscribingNothingMoreArrivesAndOffsetsGoOn(_ factory: Factory) throws {
        let h = try factory.make()
        _ = try h.subscribe("a")
        try h.publish(try event("a", 1))
        try h.settle()
        try h.unsubscribe("a")
        try h.unsubscribe("never-subscribed")
        #expect(try h.publish(try event("a", 2))?.offset == 2)
        try h.settle()
        #expect(h.offsets() == [1])
        #expect(try h.subscribe("a")?.position.offset == 2)
    }

    // MARK: Recovery

    @Test(arguments: factories)
    func aSubscriberThatComesBackGetsExactlyWhatItMissedInOrder(_ factory: Factory) throws {
        let h = try factory.make()
        try h.publish(try event("a", 1))
        let seen = try #require(try h.subscribe("a")?.position)
        try h.unsubscribe("a")
        for n in 2...4 { try h.publish(try event("a", n)) }
        let back = try h.subscribe("a", since: seen)
        #expect(recovered(back) == .success([2, 3, 4]))
        #expect(back?.position.offset == 4)
        try h.settle()
        #expect(h.offsets().isEmpty, "nothing live while unsubscribed; the replay is the recovery's")
        // Live events go on from there, none twice.
        try h.publish(try event("a", 5))
        try h.settle()
        #expect(h.offsets() == [5])
        // Nothing missed: recovered, with nothing to replay.
        #expect(recovered(try h.subscribe("a", since: StreamPosition(offset: 5, epoch: seen.epoch))) == .success([]))
    }

    @Test(arguments: factories)
    func recoveryIsAllOrNothingAtTheHistorysEdge(_ factory: Factory) throws {
        let h = try factory.make(history: HistoryLimits(maxEvents: 5, maxAgeMilliseconds: 60_000))
        for n in 1...12 { try h.publish(try event("a", n)) }
        let epoch = try #require(try h.subscribe("a")?.position.epoch)
        // Offsets 8 to 12 are kept: from 7 everything missed is there, from 6 one event is gone.
        #expect(recovered(try h.subscribe("a", since: StreamPosition(offset: 7, epoch: epoch))) == .success([8, 9, 10, 11, 12]))
        #expect(recovered(try h.subscribe("a", since: StreamPosition(offset: 6, epoch: epoch))) == .failure(.historyTooShort))
        #expect(recovered(try h.subscribe("a", since: StreamPosition(offset: 0, epoch: epoch))) == .failure(.historyTooShort))
    }

    @Test(arguments: factories)
    func aGapPastTheRecoveryBoundIsRefetchedNotReplayed(_ factory: Factory) throws {
        let h = try factory.make(maxRecovery: 3)
        for n in 1...10 { try h.publish(try event("a", n)) }
        let epoch = try #require(try h.subscribe("a")?.position.epoch)
        #expect(recovered(try h.subscribe("a", since: StreamPosition(offset: 7, epoch: epoch))) == .success([8, 9, 10]))
        #expect(recovered(try h.subscribe("a", since: StreamPosition(offset: 6, epoch: epoch))) == .failure(.gapTooLong))
    }

    @Test(arguments: factories)
    func anotherEpochOrAPositionNeverReachedIsRefetched(_ factory: Factory) throws {
        let h = try factory.make()
        for n in 1...3 { try h.publish(try event("a", n)) }
        let epoch = try #require(try h.subscribe("a")?.position.epoch)
        #expect(recovered(try h.subscribe("a", since: StreamPosition(offset: 2, epoch: epoch + "x"))) == .failure(.epochChanged))
        #expect(recovered(try h.subscribe("a", since: StreamPosition(offset: 4, epoch: epoch))) == .failure(.positionAhead))
        // A channel never used has a stream too: a stranger's epoch is not it.
        #expect(recovered(try h.subscribe("fresh", since: StreamPosition(offset: 0, epoch: epoch))) == .failure(.epochChanged))
    }

    @Test(arguments: factories)
    func historyPastItsAgeIsDroppedButTheStreamAndItsEpochStay(_ factory: Factory) throws {
        let h = try factory.make(history: HistoryLimits(maxEvents: 100, maxAgeMilliseconds: 1_000))
        try h.publish(try event("a", 1), at: Self.start)
        try h.publish(try event("a", 2), at: Timestamp(milliseconds: Self.start.milliseconds + 600))
        let position = try #require(try h.subscribe("a")?.position)
        try h.unsubscribe("a")
        try h.sweep(now: Timestamp(milliseconds: Self.start.milliseconds + 1_100))
        let epoch = position.epoch
        // Event 1 is past its age, event 2 is not.
        #expect(recovered(try h.subscribe("a", since: StreamPosition(offset: 1, epoch: epoch))) == .success([2]))
        #expect(recovered(try h.subscribe("a", since: StreamPosition(offset: 0, epoch: epoch))) == .failure(.historyTooShort))
        try h.sweep(now: Timestamp(milliseconds: Self.start.milliseconds + 60_000))
        #expect(try h.usage.historyEvents == 0 && h.usage.historyBytes == 0)
        // A quiet channel: whoever saw its last event missed nothing, whatever the time.
        #expect(recovered(try h.subscribe("a", since: position)) == .success([]))
    }

    @Test(arguments: factories)
    func historyStaysBoundedWhateverThePublishRate(_ factory: Factory) throws {
        let h = try factory.make(history: HistoryLimits(maxEvents: 100, maxAgeMilliseconds: 60_000))
        for n in 0..<3 { _ = try h.subscribe("c\(n)") }
        let events = try (1...5_000).map { try event("c\($0 % 3)", $0) }
        let broker = h.broker!
        let answered: Int = try h.thread.ask { answer in
            var count = 0
            for event in events {
                broker.publish(event, at: Self.start) { _ in
                    count += 1
                    if count == events.count { answer(count) }
                }
            }
        }
        #expect(answered == 5_000)
        try h.settle()
        #expect(h.offsets().count == 5_000)
        // The barrier's one event is kept too.
        #expect(try h.usage.historyEvents == 300 + 1)
        let perEvent = try h.usage.historyBytes / 301
        #expect(perEvent > 100 && perEvent < 400, "about one encoded frame per event: \(perEvent) bytes")
        // What a newcomer reads is bounded the same way.
        let page = try #require(try h.history("c1", since: nil, limit: 1_000))
        #expect(page.events.count == 100)
    }

    @Test(arguments: factories)
    func aChannelWithoutHistoryRecoversOnlyWhenNothingWasMissed(_ factory: Factory) throws {
        let h = try factory.make(history: HistoryLimits(maxEvents: 0, maxAgeMilliseconds: 60_000))
        try h.publish(try event("a", 1))
        let seen = try #require(try h.subscribe("a")?.position)
        #expect(recovered(try h.subscribe("a", since: seen)) == .success([]))
        try h.publish(try event("a", 2))
        try h.settle()
        #expect(recovered(try h.subscribe("a", since: seen)) == .failure(.historyTooShort))
        #expect(try h.usage.historyEvents == 0)
    }

    @Test(arguments: factories)
    func historyPagesAnswerWhatIsKeptAfterAPosition(_ factory: Factory) throws {
        let h = try factory.make(history: HistoryLimits(maxEvents: 5, maxAgeMilliseconds: 60_000))
        for n in 1...8 { try h.publish(try event("a", n)) }
        func page(_ since: StreamPosition?, limit: Int = 100) throws -> HistoryPage? { try h.history("a", since: since, limit: limit) }
        let all = try #require(try page(nil))
        #expect(all.events.map(\.offset) == [4, 5, 6, 7, 8] && all.position.offset == 8)
        let epoch = all.position.epoch
        #expect(try page(StreamPosition(offset: 5, epoch: epoch)).map { ($0.events.map(\.offset), $0.complete) }! == ([6, 7, 8], true))
        #expect(try page(StreamPosition(offset: 5, epoch: epoch), limit: 2).map { ($0.events.map(\.offset), $0.complete) }! == ([6, 7], false))
        #expect(try page(StreamPosition(offset: 1, epoch: epoch)).map { ($0.events.map(\.offset), $0.complete) }! == ([4, 5, 6, 7, 8], false))
        #expect(try page(StreamPosition(offset: 5, epoch: "other")).map { ($0.events.map(\.offset), $0.complete) }! == ([4, 5, 6, 7, 8], false))
        // Each kept frame is the event push subscribers got.
        let frame = String(decoding: all.events[0].frame, as: UTF8.self)
        #expect(frame.hasPrefix(#"{"op":"event","channel":"a","offset":4,"event":{"#))
    }
}
