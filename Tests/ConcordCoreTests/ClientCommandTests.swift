import Testing
@testable import ConcordCore

@Suite("Command decoding")
struct ClientCommandTests {
    func decode(_ text: String) throws(ProtocolError) -> ClientCommand {
        guard let object = JSONParsing.object(from: Array(text.utf8)) else { throw ProtocolError(.invalidJSON, "not an object") }
        return try ClientCommand.decode(object)
    }

    func code(_ text: String) -> ErrorCode? {
        do { _ = try decode(text); return nil } catch { return error.code }
    }

    @Test func subscribeWithRefineParams() throws {
        let command = try decode(
            #"{"op":"subscribe","id":1,"sub":"s1","channel":"resources/posts","types":["*"],"params":{"ids":[1,"2"],"id":1,"subscriptionType":"useOne"}}"#)
        #expect(
            command == .subscribe(.init(sub: .string("s1"), channel: "resources/posts", filter: SubscriptionFilter(types: ["*"], ids: ["1", "2"]), idCount: 2)))
    }

    @Test func subscribeDefaultsToEveryType() throws {
        guard case .subscribe(let s) = try decode(#"{"op":"subscribe","sub":7,"channel":"c"}"#) else { Issue.record("not subscribe"); return }
        #expect(s.filter.types == nil && s.filter.ids == nil)
        #expect(s.sub == .int(7))
    }

    @Test func others() throws {
        #expect(try decode(#"{"op":"unsubscribe","sub":"s1"}"#) == .unsubscribe(sub: .string("s1")))
        #expect(try decode(#"{"op":"ping","id":"x"}"#) == .ping)
        #expect(try decode(#"{"op":"publish","event":{"channel":"c","type":"t"}}"#) == .publish(event: ["channel": .string("c"), "type": .string("t")]))
    }

    @Test(arguments: [
        (#"{"id":1}"#, ErrorCode.invalidFrame),
        (#"{"op":5}"#, .invalidFrame),
        (#"{"op":"subscrib"}"#, .unknownOp),
        (#"{"op":"subscribe","channel":"c"}"#, .invalidFrame),
        (#"{"op":"subscribe","sub":"","channel":"c"}"#, .invalidFrame),
        (#"{"op":"subscribe","sub":"s","channel":3}"#, .invalidFrame),
        (#"{"op":"subscribe","sub":"s","channel":"a b"}"#, .invalidChannel),
        (#"{"op":"subscribe","sub":"s","channel":"c","types":"*"}"#, .invalidFrame),
        (#"{"op":"subscribe","sub":"s","channel":"c","types":[1]}"#, .invalidFrame),
        (#"{"op":"subscribe","sub":"s","channel":"c","params":[]}"#, .invalidFrame),
        (#"{"op":"subscribe","sub":"s","channel":"c","params":{"ids":{}}}"#, .invalidFrame),
        (#"{"op":"subscribe","sub":"s","channel":"c","params":{"ids":[null]}}"#, .invalidFrame),
        (#"{"op":"unsubscribe"}"#, .invalidFrame),
        (#"{"op":"publish","event":[]}"#, .invalidFrame),
        (#"{"op":"ping","id":{"a":1}}"#, .invalidFrame),
    ])
    func rejects(text: String, expected: ErrorCode) {
        #expect(code(text) == expected)
    }

    @Test func hugeArraysAreRefused() throws {
        // Past the most any server allows, ids are not read, only counted: the server refuses the
        // subscription by its own limit, and says which.
        let ids = (0...ClientCommand.maxIDs).map(String.init).joined(separator: ",")
        guard case .subscribe(let subscribe) = try decode(#"{"op":"subscribe","sub":"s","channel":"c","params":{"ids":[\#(ids)]}}"#) else {
            Issue.record("not a subscribe")
            return
        }
        #expect(subscribe.idCount == ClientCommand.maxIDs + 1)
        #expect(subscribe.filter.ids == nil)
        let types = (0...ClientCommand.maxTypes).map { "\"t\($0)\"" }.joined(separator: ",")
        #expect(code(#"{"op":"subscribe","sub":"s","channel":"c","types":[\#(types)]}"#) == .invalidFrame)
    }

    @Test func deepNestingAndNonObjectsAreNotCommands() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(JSONParsing.object(from: Array(#"{"op":"ping","x":\#(deep)}"#.utf8)) == nil)
        #expect(JSONParsing.object(from: Array("[1,2]".utf8)) == nil)
        #expect(JSONParsing.object(from: Array("{\"op\":".utf8)) == nil)
        #expect(JSONParsing.object(from: Array(#"{"s":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}"#.utf8)) != nil)
    }

    @Test func jsonWriterEscapesAndRoundTrips() throws {
        var w = JSONWriter()
        let value: JSONValue = .object(["a\"b": .array([.string("line\n\u{1}\\"), .int(-5), .double(1.5), .bool(true), .null])])
        w.value(value)
        #expect(JSONParsing.value(from: w.bytes) == value)
    }
}
