import Testing
@testable import ConcordCore

@Suite("LiveEvent validation")
struct LiveEventTests {
    let now = Timestamp(milliseconds: 1_795_000_000_123)

    @Test func fillsInMissingDateAndPayload() throws {
        let event = try LiveEvent(json: ["channel": .string("resources/posts"), "type": .string("created")], now: now)
        #expect(event.body["date"] == .string(now.iso8601))
        #expect(event.body["payload"] == .object([:]))
        #expect(event.ids == nil)
    }

    @Test func keepsGivenDateAndMeta() throws {
        let event = try LiveEvent(
            json: [
                "channel": .string("c"), "type": .string("updated"), "date": .string("2020-01-01T00:00:00.000Z"),
                "meta": .object(["dataProviderName": .string("default")]),
            ], now: now)
        #expect(event.body["date"] == .string("2020-01-01T00:00:00.000Z"))
        #expect(event.body["meta"]?["dataProviderName"] == .string("default"))
    }

    @Test(arguments: [
        (["type": JSONValue.string("x")], ErrorCode.invalidEvent),
        (["channel": .string("c")], .invalidEvent),
        (["channel": .string("c"), "type": .string("")], .invalidEvent),
        (["channel": .int(1), "type": .string("x")], .invalidEvent),
        (["channel": .string("has space"), "type": .string("x")], .invalidChannel),
        (["channel": .string("star/*"), "type": .string("x")], .invalidChannel),
        (["channel": .string("c"), "type": .string("x"), "payload": .string("p")], .invalidEvent),
        (["channel": .string("c"), "type": .string("x"), "payload": .object(["ids": .int(1)])], .invalidEvent),
        (["channel": .string("c"), "type": .string("x"), "payload": .object(["ids": .array([.bool(true)])])], .invalidEvent),
        (["channel": .string("c"), "type": .string("x"), "date": .int(5)], .invalidEvent),
        (["channel": .string("c"), "type": .string("x"), "meta": .array([])], .invalidEvent),
    ])
    func rejects(json: [String: JSONValue], code: ErrorCode) {
        #expect(throws: ProtocolError.self) { try LiveEvent(json: json, now: now) }
        do { _ = try LiveEvent(json: json, now: now) } catch { #expect(error.code == code) }
    }

    @Test func channelNameLimits() {
        #expect(ChannelName.validate(String(repeating: "a", count: 200)) == nil)
        #expect(ChannelName.validate(String(repeating: "a", count: 201)) != nil)
        #expect(ChannelName.validate("") != nil)
        #expect(ChannelName.validate("notifications/user/42") == nil)
        #expect(ChannelName.validate("é") != nil)
    }

    @Test func iso8601() {
        #expect(Timestamp(milliseconds: 0).iso8601 == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp(milliseconds: 951_782_400_007).iso8601 == "2000-02-29T00:00:00.007Z")
        #expect(Timestamp(milliseconds: 1_795_000_000_123).iso8601 == "2026-11-18T11:06:40.123Z")
        #expect(Timestamp(milliseconds: 253_402_300_799_999).iso8601 == "9999-12-31T23:59:59.999Z")
        // Outside four-digit years the slow path keeps the same shape.
        #expect(Timestamp(milliseconds: -1).iso8601 == "1969-12-31T23:59:59.999Z")
        #expect(Timestamp(milliseconds: 253_402_300_800_000).iso8601 == "10000-01-01T00:00:00.000Z")
    }

    @Test func integersAreWrittenExactly() {
        for value: Int64 in [0, 7, -7, 10, 99, 100, 1_234_567_890, Int64.max, Int64.min, -1_000_000] {
            var w = JSONWriter()
            w.int(value)
            #expect(String(decoding: w.bytes, as: UTF8.self) == String(value))
        }
    }

    @Test func channelPatterns() {
        #expect(ChannelPattern("resources/*").matches("resources/posts"))
        #expect(!ChannelPattern("resources/*").matches("resource"))
        #expect(ChannelPattern("chat/room").matches("chat/room"))
        #expect(!ChannelPattern("chat/room").matches("chat/room2"))
        #expect(ChannelPattern("*").matches("anything"))
    }
}
