import Testing
@testable import ConcordCore

/// Windows of coalescing subscriptions, on a clock the test moves.
@Suite("Coalescer")
struct CoalescerTests {
    func event(_ type: String, _ ids: [String]?, date: String = "2026-12-06T10:00:00.000Z") throws -> LiveEvent {
        var payload: [String: JSONValue] = ["extra": .string("x")]
        if let ids { payload["ids"] = .array(ids.map(JSONValue.string)) }
        return try LiveEvent(
            json: ["channel": .string("resources/posts"), "type": .string(type), "payload": .object(payload), "date": .string(date)],
            now: Timestamp(milliseconds: 0))
    }

    func summary(_ deliveries: [Coalescer<String>.Delivery]) -> [String] {
        deliveries.map { "\($0.event.type):\($0.event.ids?.joined(separator: ",") ?? "*")x\($0.merged)@\($0.offset)" }
    }

    @Test func theFirstEventGoesAtOnceAndABurstBecomesOneEventPerTypePerWindow() throws {
        var coalescer = Coalescer<String>()
        let first = coalescer.offer(try event("updated", ["1"]), offset: 1, to: "s", windowMilliseconds: 500, now: 0)
        #expect(first.map { summary([$0]) } == ["updated:1x1@1"])
        #expect(first?.event.body["payload"]?["extra"] == .string("x"), "a lone event goes out as published")
        // 1,000 more in the window: nothing goes out until it ends.
        for n in 2...1_001 {
            let type = n.isMultiple(of: 10) ? "deleted" : "updated"
            #expect(coalescer.offer(try event(type, [String(n % 7)]), offset: UInt64(n), to: "s", windowMilliseconds: 500, now: 100) == nil)
        }
        #expect(coalescer.due(now: 499).isEmpty)
        #expect(coalescer.nextDeadline() == 500)
        let due = coalescer.due(now: 500)
        #expect(due.map(\.0) == ["s"])
        let merged = try #require(due.first?.1)
        #expect(merged.map(\.event.type) == ["updated", "deleted"], "types in the order they first came")
        #expect(merged.map(\.merged) == [900, 100])
        #expect(Set(merged[0].event.ids ?? []) == Set((0..<7).map(String.init)))
        #expect(merged.allSatisfy { $0.offset == 1_001 }, "each stands for everything up to the last offset")
        #expect(merged[0].event.body["meta"]?["concord"]?["coalesced"] == .int(900))
        #expect(merged[0].event.body["payload"] == .object(["ids": merged[0].event.body["payload"]!["ids"]!]), "only the ids survive a merge")
    }

    @Test func aWindowThatKeptNothingClosesAndTheNextEventGoesAtOnce() throws {
        var coalescer = Coalescer<String>()
        #expect(coalescer.offer(try event("updated", ["1"]), offset: 1, to: "s", windowMilliseconds: 500, now: 0) != nil)
        #expect(coalescer.due(now: 500).isEmpty)
        #expect(coalescer.count == 0)
        #expect(coalescer.offer(try event("updated", ["2"]), offset: 2, to: "s", windowMilliseconds: 500, now: 700) != nil)
        // A kept event reopens the window after it is sent: a steady stream gets one per window.
        #expect(coalescer.offer(try event("updated", ["3"]), offset: 3, to: "s", windowMilliseconds: 500, now: 800) == nil)
        #expect(summary(coalescer.due(now: 1_200).flatMap(\.1)) == ["updated:3x1@3"])
        #expect(coalescer.offer(try event("updated", ["4"]), offset: 4, to: "s", windowMilliseconds: 500, now: 1_300) == nil)
        #expect(summary(coalescer.due(now: 1_700).flatMap(\.1)) == ["updated:4x1@4"])
    }

    @Test func anEventWithoutIdsMakesTheMergeAboutAnything() throws {
        var coalescer = Coalescer<String>()
        _ = coalescer.offer(try event("updated", ["1"]), offset: 1, to: "s", windowMilliseconds: 100, now: 0)
        _ = coalescer.offer(try event("updated", ["2"]), offset: 2, to: "s", windowMilliseconds: 100, now: 10)
        _ = coalescer.offer(try event("updated", nil), offset: 3, to: "s", windowMilliseconds: 100, now: 20)
        _ = coalescer.offer(try event("updated", ["4"]), offset: 4, to: "s", windowMilliseconds: 100, now: 30)
        let merged = try #require(coalescer.due(now: 100).first?.1.first)
        #expect(merged.event.ids == nil && merged.merged == 3)
        #expect(merged.event.body["payload"] == .object([:]))
    }

    @Test func subscriptionsHaveWindowsOfTheirOwnAndAnEndedOneIsForgotten() throws {
        var coalescer = Coalescer<String>()
        _ = coalescer.offer(try event("updated", ["1"]), offset: 1, to: "a", windowMilliseconds: 100, now: 0)
        _ = coalescer.offer(try event("updated", ["1"]), offset: 1, to: "b", windowMilliseconds: 300, now: 0)
        _ = coalescer.offer(try event("updated", ["2"]), offset: 2, to: "a", windowMilliseconds: 100, now: 50)
        _ = coalescer.offer(try event("updated", ["2"]), offset: 2, to: "b", windowMilliseconds: 300, now: 50)
        #expect(coalescer.due(now: 100).map(\.0) == ["a"])
        coalescer.remove("b")
        #expect(coalescer.due(now: 300).isEmpty)
    }

    @Test func aReplayMergesAtOnce() throws {
        let merged = Coalescer<String>.merge([
            (try event("updated", ["1"]), 5), (try event("created", ["9"]), 6), (try event("updated", ["2"]), 7),
        ])
        #expect(merged.map { "\($0.event.type):\($0.event.ids!.joined(separator: ","))x\($0.merged)@\($0.offset)" } == ["updated:1,2x2@7", "created:9x1@7"])
    }
}
