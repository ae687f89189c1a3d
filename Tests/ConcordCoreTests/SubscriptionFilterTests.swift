import Testing
@testable import ConcordCore

@Suite("Refine's filter semantics")
struct SubscriptionFilterTests {
    @Test func starAdmitsEveryType() {
        let filter = SubscriptionFilter(types: ["*"])
        for type in ["created", "updated", "deleted", "custom"] {
            #expect(filter.admits(type: type, ids: ["1"]))
        }
    }

    @Test func listedTypesOnly() {
        let filter = SubscriptionFilter(types: ["updated", "deleted"])
        #expect(filter.admits(type: "updated", ids: nil))
        #expect(filter.admits(type: "deleted", ids: nil))
        #expect(!filter.admits(type: "created", ids: nil))
        #expect(!filter.admits(type: "approved", ids: nil))
    }

    @Test func emptyTypesAdmitNothing() {
        let filter = SubscriptionFilter(types: [])
        #expect(!filter.admits(type: "updated", ids: nil))
    }

    @Test func idsMustIntersect() {
        let filter = SubscriptionFilter(types: ["*"], ids: ["1", "2"])
        #expect(filter.admits(type: "updated", ids: ["2", "9"]))
        #expect(!filter.admits(type: "updated", ids: ["3"]))
        #expect(!filter.admits(type: "deleted", ids: []))
    }

    @Test func createdAlwaysPassesTheIdFilter() {
        let filter = SubscriptionFilter(types: ["*"], ids: ["1"])
        #expect(filter.admits(type: "created", ids: ["7"]))
        #expect(filter.admits(type: "created", ids: nil))
    }

    @Test func createdStillNeedsItsType() {
        let filter = SubscriptionFilter(types: ["updated"], ids: ["1"])
        #expect(!filter.admits(type: "created", ids: ["1"]))
    }

    @Test func eventWithoutIdsPasses() {
        let filter = SubscriptionFilter(types: ["*"], ids: ["1"])
        #expect(filter.admits(type: "updated", ids: nil))
    }

    @Test func subscriptionWithoutIdsPassesEveryId() {
        let filter = SubscriptionFilter(types: ["*"])
        #expect(filter.admits(type: "deleted", ids: ["42"]))
    }

    @Test func numericAndStringIdsCompareAsStrings() throws {
        let event = try LiveEvent(
            json: [
                "channel": .string("resources/posts"), "type": .string("updated"),
                "payload": .object(["ids": .array([.int(1), .string("2")])]),
            ], now: Timestamp(milliseconds: 0))
        #expect(event.ids == ["1", "2"])
        #expect(SubscriptionFilter(types: ["*"], ids: ["1"]).admits(event))
        #expect(SubscriptionFilter(types: ["*"], ids: ["2"]).admits(event))
        #expect(!SubscriptionFilter(types: ["*"], ids: ["3"]).admits(event))
        #expect(JSONValue.double(3).idString == "3")
    }
}
