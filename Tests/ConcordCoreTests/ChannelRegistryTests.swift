import Testing
@testable import ConcordCore

@Suite("Subscription bookkeeping")
struct ChannelRegistryTests {
    func event(_ type: String, ids: [Int]? = nil, channel: String = "resources/posts") throws -> LiveEvent {
        var json: [String: JSONValue] = ["channel": .string(channel), "type": .string(type)]
        if let ids { json["payload"] = .object(["ids": .array(ids.map { .int(Int64($0)) })]) }
        return try LiveEvent(json: json, now: Timestamp(milliseconds: 0))
    }

    func recipients(_ registry: ChannelRegistry<Int>, _ event: LiveEvent) -> [Int] {
        var out: [Int] = []
        registry.forEachRecipient(of: event) { out.append($0) }
        return out.sorted()
    }

    @Test func deliversOncePerSubscriberWhateverItsSubscriptions() throws {
        var registry = ChannelRegistry<Int>()
        _ = try registry.subscribe(1, name: "list", channel: "resources/posts", filter: .init(), limit: 10)
        _ = try registry.subscribe(1, name: "one", channel: "resources/posts", filter: .init(ids: ["1"]), limit: 10)
        _ = try registry.subscribe(2, name: "one", channel: "resources/posts", filter: .init(ids: ["2"]), limit: 10)
        #expect(recipients(registry, try event("updated", ids: [1])) == [1])
        #expect(recipients(registry, try event("updated", ids: [2])) == [1, 2])
        #expect(recipients(registry, try event("created", ids: [3])) == [1, 2])
        #expect(recipients(registry, try event("updated", channel: "resources/users")) == [])
        #expect(registry.subscriptionCount == 3)
        #expect(registry.activeChannelCount == 1)
    }

    @Test func aChannelHasSubscribersUntilItsLastSubscriptionGoes() throws {
        var registry = ChannelRegistry<Int>()
        #expect(!registry.hasSubscribers("a"))
        try registry.subscribe(1, name: "s", channel: "a", filter: .init(), limit: 10)
        try registry.subscribe(2, name: "s", channel: "a", filter: .init(), limit: 10)
        #expect(registry.hasSubscribers("a"))
        try registry.unsubscribe(1, name: "s")
        #expect(registry.hasSubscribers("a"))
        #expect(registry.removeAll(of: 2) == ["a"])
        #expect(!registry.hasSubscribers("a"))
    }

    @Test func unsubscribeStopsOnlyThatSubscription() throws {
        var registry = ChannelRegistry<Int>()
        _ = try registry.subscribe(1, name: "list", channel: "resources/posts", filter: .init(), limit: 10)
        _ = try registry.subscribe(1, name: "one", channel: "resources/posts", filter: .init(ids: ["1"]), limit: 10)
        #expect(try registry.unsubscribe(1, name: "list") == "resources/posts")
        #expect(recipients(registry, try event("updated", ids: [2])) == [])
        #expect(recipients(registry, try event("updated", ids: [1])) == [1])
        try registry.unsubscribe(1, name: "one")
        #expect(registry.subscriptionCount == 0)
        #expect(registry.activeChannelCount == 0)
        #expect(throws: ProtocolError(.unknownSubscription, "no subscription \"one\"")) {
            try registry.unsubscribe(1, name: "one")
        }
    }

    @Test func duplicateNamesAndLimitsAreRefusedWithoutChange() throws {
        var registry = ChannelRegistry<Int>()
        _ = try registry.subscribe(1, name: "a", channel: "x", filter: .init(), limit: 2)
        #expect(throws: ProtocolError.self) { try registry.subscribe(1, name: "a", channel: "y", filter: .init(), limit: 2) }
        _ = try registry.subscribe(1, name: "b", channel: "x", filter: .init(), limit: 2)
        do {
            _ = try registry.subscribe(1, name: "c", channel: "z", filter: .init(), limit: 2)
            Issue.record("limit not enforced")
        } catch {
            #expect(error.code == .tooManySubscriptions)
        }
        #expect(registry.subscriptionCount == 2)
        #expect(registry.subscriptionCount(of: 1) == 2)
        // Another subscriber is not affected by the first one's limit.
        _ = try registry.subscribe(2, name: "a", channel: "x", filter: .init(), limit: 2)
    }

    @Test func removeAllFreesEverySubscriptionAndKeepsOthersIntact() throws {
        var registry = ChannelRegistry<Int>()
        for subscriber in 1...5 {
            _ = try registry.subscribe(subscriber, name: "s", channel: "c", filter: .init(), limit: 10)
            _ = try registry.subscribe(subscriber, name: "t", channel: "d", filter: .init(), limit: 10)
        }
        #expect(registry.removeAll(of: 2) == ["c", "d"])
        #expect(registry.removeAll(of: 2) == [])
        #expect(recipients(registry, try event("x", channel: "c")) == [1, 3, 4, 5])
        #expect(recipients(registry, try event("x", channel: "d")) == [1, 3, 4, 5])
        #expect(registry.subscriptionCount == 8)
        registry.removeAll(of: 5)
        registry.removeAll(of: 1)
        #expect(recipients(registry, try event("x", channel: "c")) == [3, 4])
    }
}
