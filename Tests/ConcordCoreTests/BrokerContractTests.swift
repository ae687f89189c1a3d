import Testing
@testable import ConcordCore

/// What every `Broker` must do, run against each implementation through a factory (the in-memory
/// broker now; a Redis broker joins the list when it exists).
@Suite("Broker contract")
struct BrokerContractTests {
    struct Factory: CustomTestStringConvertible, Sendable {
        let name: String
        /// A broker with this history policy and recovery bound.
        let make: @Sendable (HistoryPolicy, Int) -> any Broker
        var testDescription: String { name }

        func make(history: HistoryLimits = .standard, maxRecovery: Int = 1000) -> any Broker {
            make(HistoryPolicy(fallback: history), maxRecovery)
        }
    }

    static let factories: [Factory] = [
        Factory(name: "memory") { try! MemoryBroker(policy: $0, maxRecovery: $1) }
    ]

    static let start = Timestamp(milliseconds: 1_800_000_000_000)

    func event(_ channel: String, _ n: Int, type: String = "updated", ids: [String]? = nil) throws -> LiveEvent {
        var payload: [String: JSONValue] = ["n": .int(Int64(n))]
        if let ids { payload["ids"] = .array(ids.map(JSONValue.string)) }
        return try LiveEvent(
            json: ["channel": .string(channel), "type": .string(type), "payload": .object(payload)], now: Self.start)
    }

    /// Publishes and returns the position `done` gave, failing the test on an error.
    @discardableResult
    func publish(_ broker: any Broker, _ event: LiveEvent, at: Timestamp = start) -> StreamPosition? {
        var position: StreamPosition?
        broker.publish(event, at: at) { result in position = try? result.get() }
        return position
    }

    func subscribe(_ broker: any Broker, _ channel: String, since: StreamPosition? = nil) -> BrokerSubscription? {
        var subscription: BrokerSubscription?
        broker.subscribe(channel, since: since) { subscription = try? $0.get() }
        return subscription
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
        let broker = factory.make()
        let a1 = publish(broker, try event("a", 1)), a2 = publish(broker, try event("a", 2)), b1 = publish(broker, try event("b", 1))
        #expect(a1?.offset == 1 && a2?.offset == 2 && b1?.offset == 1)
        #expect(a1?.epoch == a2?.epoch && a1?.epoch.isEmpty == false && b1?.epoch.isEmpty == false)
        #expect(subscribe(broker, "a")?.position == a2)
    }

    @Test(arguments: factories)
    func subscribingAnswersTheCurrentPositionAndDeliversWhatComesAfterInOrder(_ factory: Factory) throws {
        let broker = factory.make()
        var delivered: [(String, UInt64, JSONValue?)] = []
        broker.onEvent = { delivered.append(($0.event.channel, $0.position.offset, $0.event.body["payload"]?["n"])) }
        publish(broker, try event("a", 0))
        let start = subscribe(broker, "a")
        #expect(start?.position.offset == 1)
        #expect(start?.recovery == nil, "no recovery was asked for")
        for n in 1...5 { publish(broker, try event("a", n)) }
        publish(broker, try event("elsewhere", 9))
        #expect(delivered.map(\.0) == Array(repeating: "a", count: 5))
        #expect(delivered.map(\.1) == [2, 3, 4, 5, 6])
        #expect(delivered.map(\.2) == (1...5).map { .int(Int64($0)) })
    }

    @Test(arguments: factories)
    func thePublishersAnswerComesBeforeItsOwnEvent(_ factory: Factory) throws {
        let broker = factory.make()
        var log: [String] = []
        broker.onEvent = { log.append("event \($0.position.offset)") }
        _ = subscribe(broker, "a")
        broker.publish(try event("a", 1), at: Self.start) { log.append("done \((try? $0.get())?.offset ?? 0)") }
        #expect(log == ["done 1", "event 1"])
    }

    @Test(arguments: factories)
    func afterUnsubscribingNothingMoreArrivesAndOffsetsGoOn(_ factory: Factory) throws {
        let broker = factory.make()
        var delivered: [UInt64] = []
        broker.onEvent = { delivered.append($0.position.offset) }
        _ = subscribe(broker, "a")
        publish(broker, try event("a", 1))
        broker.unsubscribe("a")
        broker.unsubscribe("never-subscribed")
        #expect(publish(broker, try event("a", 2))?.offset == 2)
        #expect(delivered == [1])
        #expect(subscribe(broker, "a")?.position.offset == 2)
    }

    // MARK: Recovery

    @Test(arguments: factories)
    func aSubscriberThatComesBackGetsExactlyWhatItMissedInOrder(_ factory: Factory) throws {
        let broker = factory.make()
        var live: [UInt64] = []
        broker.onEvent = { live.append($0.position.offset) }
        publish(broker, try event("a", 1))
        let seen = try #require(subscribe(broker, "a")?.position)
        broker.unsubscribe("a")
        for n in 2...4 { publish(broker, try event("a", n)) }
        let back = subscribe(broker, "a", since: seen)
        #expect(recovered(back) == .success([2, 3, 4]))
        #expect(back?.position.offset == 4)
        #expect(live.isEmpty, "nothing live while unsubscribed; the replay is the recovery's")
        // Live events go on from there, none twice.
        publish(broker, try event("a", 5))
        #expect(live == [5])
        // Nothing missed: recovered, with nothing to replay.
        #expect(recovered(subscribe(broker, "a", since: StreamPosition(offset: 5, epoch: seen.epoch))) == .success([]))
    }

    @Test(arguments: factories)
    func recoveryIsAllOrNothingAtTheHistorysEdge(_ factory: Factory) throws {
        let broker = factory.make(history: HistoryLimits(maxEvents: 5, maxAgeMilliseconds: 60_000))
        for n in 1...12 { publish(broker, try event("a", n)) }
        let epoch = try #require(subscribe(broker, "a")?.position.epoch)
        // Offsets 8 to 12 are kept: from 7 everything missed is there, from 6 one event is gone.
        #expect(recovered(subscribe(broker, "a", since: StreamPosition(offset: 7, epoch: epoch))) == .success([8, 9, 10, 11, 12]))
        #expect(recovered(subscribe(broker, "a", since: StreamPosition(offset: 6, epoch: epoch))) == .failure(.historyTooShort))
        #expect(recovered(subscribe(broker, "a", since: StreamPosition(offset: 0, epoch: epoch))) == .failure(.historyTooShort))
    }

    @Test(arguments: factories)
    func aGapPastTheRecoveryBoundIsRefetchedNotReplayed(_ factory: Factory) throws {
        let broker = factory.make(maxRecovery: 3)
        for n in 1...10 { publish(broker, try event("a", n)) }
        let epoch = try #require(subscribe(broker, "a")?.position.epoch)
        #expect(recovered(subscribe(broker, "a", since: StreamPosition(offset: 7, epoch: epoch))) == .success([8, 9, 10]))
        #expect(recovered(subscribe(broker, "a", since: StreamPosition(offset: 6, epoch: epoch))) == .failure(.gapTooLong))
    }

    @Test(arguments: factories)
    func anotherEpochOrAPositionNeverReachedIsRefetched(_ factory: Factory) throws {
        let broker = factory.make()
        for n in 1...3 { publish(broker, try event("a", n)) }
        let epoch = try #require(subscribe(broker, "a")?.position.epoch)
        #expect(recovered(subscribe(broker, "a", since: StreamPosition(offset: 2, epoch: epoch + "x"))) == .failure(.epochChanged))
        #expect(recovered(subscribe(broker, "a", since: StreamPosition(offset: 4, epoch: epoch))) == .failure(.positionAhead))
        // A channel never used has a stream too: a stranger's epoch is not it.
        #expect(recovered(subscribe(broker, "fresh", since: StreamPosition(offset: 0, epoch: epoch))) == .failure(.epochChanged))
    }

    @Test(arguments: factories)
    func historyPastItsAgeIsDroppedButTheStreamAndItsEpochStay(_ factory: Factory) throws {
        let broker = factory.make(history: HistoryLimits(maxEvents: 100, maxAgeMilliseconds: 1_000))
        publish(broker, try event("a", 1), at: Self.start)
        publish(broker, try event("a", 2), at: Timestamp(milliseconds: Self.start.milliseconds + 600))
        let position = try #require(subscribe(broker, "a")?.position)
        broker.unsubscribe("a")
        broker.sweep(now: Timestamp(milliseconds: Self.start.milliseconds + 1_100))
        let epoch = position.epoch
        // Event 1 is past its age, event 2 is not.
        #expect(recovered(subscribe(broker, "a", since: StreamPosition(offset: 1, epoch: epoch))) == .success([2]))
        #expect(recovered(subscribe(broker, "a", since: StreamPosition(offset: 0, epoch: epoch))) == .failure(.historyTooShort))
        broker.sweep(now: Timestamp(milliseconds: Self.start.milliseconds + 60_000))
        #expect(broker.usage.historyEvents == 0 && broker.usage.historyBytes == 0)
        // A quiet channel: whoever saw its last event missed nothing, whatever the time.
        #expect(recovered(subscribe(broker, "a", since: position)) == .success([]))
    }

    @Test(arguments: factories)
    func historyStaysBoundedWhateverThePublishRate(_ factory: Factory) throws {
        let broker = factory.make(history: HistoryLimits(maxEvents: 100, maxAgeMilliseconds: 60_000))
        for n in 1...5_000 { publish(broker, try event("c\(n % 3)", n)) }
        #expect(broker.usage.historyEvents == 300)
        let perEvent = broker.usage.historyBytes / 300
        #expect(perEvent > 100 && perEvent < 400, "about one encoded frame per event: \(perEvent) bytes")
    }

    @Test(arguments: factories)
    func aChannelWithoutHistoryRecoversOnlyWhenNothingWasMissed(_ factory: Factory) throws {
        let broker = factory.make(history: HistoryLimits(maxEvents: 0, maxAgeMilliseconds: 60_000))
        publish(broker, try event("a", 1))
        let seen = try #require(subscribe(broker, "a")?.position)
        #expect(recovered(subscribe(broker, "a", since: seen)) == .success([]))
        publish(broker, try event("a", 2))
        #expect(recovered(subscribe(broker, "a", since: seen)) == .failure(.historyTooShort))
        #expect(broker.usage.historyEvents == 0)
    }

    @Test(arguments: factories)
    func historyPagesAnswerWhatIsKeptAfterAPosition(_ factory: Factory) throws {
        let broker = factory.make(history: HistoryLimits(maxEvents: 5, maxAgeMilliseconds: 60_000))
        for n in 1...8 { publish(broker, try event("a", n)) }
        func page(_ since: StreamPosition?, limit: Int = 100) -> HistoryPage? {
            var answer: HistoryPage?
            broker.history("a", since: since, limit: limit) { answer = try? $0.get() }
            return answer
        }
        let all = try #require(page(nil))
        #expect(all.events.map(\.offset) == [4, 5, 6, 7, 8] && all.position.offset == 8)
        let epoch = all.position.epoch
        #expect(page(StreamPosition(offset: 5, epoch: epoch)).map { ($0.events.map(\.offset), $0.complete) }! == ([6, 7, 8], true))
        #expect(page(StreamPosition(offset: 5, epoch: epoch), limit: 2).map { ($0.events.map(\.offset), $0.complete) }! == ([6, 7], false))
        #expect(page(StreamPosition(offset: 1, epoch: epoch)).map { ($0.events.map(\.offset), $0.complete) }! == ([4, 5, 6, 7, 8], false))
        #expect(page(StreamPosition(offset: 5, epoch: "other")).map { ($0.events.map(\.offset), $0.complete) }! == ([4, 5, 6, 7, 8], false))
        // Each kept frame is the event push subscribers got.
        let frame = String(decoding: all.events[0].frame, as: UTF8.self)
        #expect(frame.hasPrefix(#"{"op":"event","channel":"a","offset":4,"event":{"#))
    }
}
