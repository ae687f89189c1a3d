import Testing
@testable import ConcordCore

/// What every `Broker` must do, run against each implementation through a factory (the in-memory
/// broker now; a Redis broker joins the list when it exists).
@Suite("Broker contract")
struct BrokerContractTests {
    struct Factory: CustomTestStringConvertible, Sendable {
        let name: String
        let make: @Sendable () -> any Broker
        var testDescription: String { name }
    }

    static let factories: [Factory] = [
        Factory(name: "memory") { MemoryBroker(epoch: "e1") }
    ]

    func event(_ channel: String, _ n: Int) throws -> LiveEvent {
        try LiveEvent(
            json: ["channel": .string(channel), "type": .string("updated"), "payload": .object(["n": .int(Int64(n))])],
            now: Timestamp(milliseconds: 0))
    }

    /// Publishes and returns the position `done` gave, failing the test on an error.
    func publish(_ broker: any Broker, _ event: LiveEvent) -> StreamPosition? {
        var position: StreamPosition?
        broker.publish(event) { result in position = try? result.get() }
        return position
    }

    @Test(arguments: factories)
    func offsetsCountUpFromOnePerChannelInOneEpoch(_ factory: Factory) throws {
        let broker = factory.make()
        let a1 = publish(broker, try event("a", 1)), a2 = publish(broker, try event("a", 2)), b1 = publish(broker, try event("b", 1))
        #expect(a1?.offset == 1 && a2?.offset == 2 && b1?.offset == 1)
        #expect(a1?.epoch == a2?.epoch && a1?.epoch == b1?.epoch && a1?.epoch.isEmpty == false)
    }

    @Test(arguments: factories)
    func subscribingAnswersTheCurrentPositionAndDeliversWhatComesAfterInOrder(_ factory: Factory) throws {
        let broker = factory.make()
        var delivered: [(String, UInt64, JSONValue?)] = []
        broker.onEvent = { delivered.append(($0.event.channel, $0.position.offset, $0.event.body["payload"]?["n"])) }
        _ = publish(broker, try event("a", 0))
        var start: StreamPosition?
        broker.subscribe("a") { start = try? $0.get() }
        #expect(start?.offset == 1)
        for n in 1...5 { _ = publish(broker, try event("a", n)) }
        _ = publish(broker, try event("elsewhere", 9))
        #expect(delivered.map(\.0) == Array(repeating: "a", count: 5))
        #expect(delivered.map(\.1) == [2, 3, 4, 5, 6])
        #expect(delivered.map(\.2) == (1...5).map { .int(Int64($0)) })
    }

    @Test(arguments: factories)
    func thePublishersAnswerComesBeforeItsOwnEvent(_ factory: Factory) throws {
        let broker = factory.make()
        var log: [String] = []
        broker.onEvent = { log.append("event \($0.position.offset)") }
        broker.subscribe("a") { _ in }
        broker.publish(try event("a", 1)) { log.append("done \((try? $0.get())?.offset ?? 0)") }
        #expect(log == ["done 1", "event 1"])
    }

    @Test(arguments: factories)
    func afterUnsubscribingNothingMoreArrivesAndOffsetsGoOn(_ factory: Factory) throws {
        let broker = factory.make()
        var delivered: [UInt64] = []
        broker.onEvent = { delivered.append($0.position.offset) }
        broker.subscribe("a") { _ in }
        _ = publish(broker, try event("a", 1))
        broker.unsubscribe("a")
        broker.unsubscribe("never-subscribed")
        #expect(publish(broker, try event("a", 2))?.offset == 2)
        #expect(delivered == [1])
        var again: StreamPosition?
        broker.subscribe("a") { again = try? $0.get() }
        #expect(again?.offset == 2)
    }
}
