import Testing
@testable import ConcordCore

@Suite("Record state JSON: the stored form and wire versions")
struct RecordStateJSONTests {
    let post = RecordKey(channel: "resources/posts", id: "1")

    func roundTrip(_ state: RecordState) throws {
        let bytes = state.jsonBytes
        let decoded = try RecordState(json: bytes)
        #expect(decoded == state)
        // And again: reading never loses what writing needs.
        #expect(try RecordState(json: decoded.jsonBytes) == state)
    }

    @Test func theEmptyStateIsJustAnEmptyVersion() throws {
        #expect(String(decoding: RecordState().jsonBytes, as: UTF8.self) == #"{"version":{}}"#)
        try roundTrip(RecordState())
    }

    @Test func theFormIsCompactAndReadable() {
        var state = RecordState()
        state.version = VersionVector(["bob": 1, "alice": 2])
        state.fields["title"] = FieldWrite(dot: Dot(actor: "bob", counter: 1), at: Timestamp(milliseconds: 1000), value: .string("Hi"))
        state.fields["body"] = FieldWrite(dot: Dot(actor: "alice", counter: 2), at: Timestamp(milliseconds: 2000))
        state.actors = ["bob", "alice"]
        #expect(
            String(decoding: state.jsonBytes, as: UTF8.self)
                == #"{"version":{"alice":2,"bob":1},"fields":{"body":["alice",2,2000],"title":["bob",1,1000,"Hi"]},"actors":["bob","alice"]}"#)
    }

    @Test func statesMadeByTheBookRoundTrip() throws {
        var book = RecordBook()
        let first = try book.commit(
            post, Commit(actor: "alice", context: VersionVector(), fields: ["title": .string("A"), "body": nil]),
            now: Timestamp(milliseconds: 1_763_805_600_000))
        guard case .accepted(let a) = first else { Issue.record("refused"); return }
        _ = try book.commit(post, Commit(actor: "bob", context: a.version, fields: nil), now: Timestamp(milliseconds: 1_763_805_601_000))
        _ = try book.commit(
            post, Commit(actor: "carol", context: book.state(of: post)!.version, fields: ["shared-null": .some(.null)]), now: Timestamp(milliseconds: -5))
        try roundTrip(book.state(of: post)!)
    }

    @Test func aSharedNullStaysDistinctFromAnUnsharedValue() throws {
        var state = RecordState()
        state.fields["shared"] = FieldWrite(dot: Dot(actor: "a", counter: 1), at: Timestamp(milliseconds: 0), value: .null)
        state.fields["unshared"] = FieldWrite(dot: Dot(actor: "a", counter: 1), at: Timestamp(milliseconds: 0), value: nil)
        let decoded = try RecordState(json: state.jsonBytes)
        #expect(decoded.fields["shared"]?.value == .some(.null))
        #expect(decoded.fields["unshared"]?.value == nil)
    }

    @Test func foldedStatesRoundTrip() throws {
        var book = RecordBook(maxActors: 2)
        for (i, actor) in ["alice", "bob", "carol", "dave"].enumerated() {
            let context = book.state(of: post)?.version ?? VersionVector()
            _ = try book.commit(
                post, Commit(actor: actor, context: context, fields: i == 0 ? nil : ["f\(i)": .int(Int64(i))]), now: Timestamp(milliseconds: Int64(i)))
        }
        let state = book.state(of: post)!
        #expect(state.folds == 2)
        #expect(state.version[RecordState.floorActor] == 2)
        #expect(state.wholeWrite?.dot.actor == RecordState.floorActor)
        try roundTrip(state)
    }

    @Test func tombstonesRoundTrip() throws {
        var book = RecordBook()
        _ = try book.commit(post, Commit(actor: "alice", context: VersionVector(), fields: ["title": .string("x")]), now: Timestamp(milliseconds: 10))
        _ = try book.delete(post, actor: "bob", context: book.state(of: post)!.version, now: Timestamp(milliseconds: 20))
        let state = book.state(of: post)!
        #expect(state.tombstone != nil)
        try roundTrip(state)
    }

    @Test func everyKindOfValueAndExtremeNumberRoundTrips() throws {
        var state = RecordState()
        state.version = VersionVector(["max": UInt64.max, "é\"\\\n\u{1}🙂": 1])
        state.folds = UInt64.max
        state.actors = ["max", "é\"\\\n\u{1}🙂"]
        let values: [JSONValue] = [
            .null, .bool(true), .bool(false), .int(0), .int(Int64.min), .int(Int64.max), .int(-1),
            .double(1.5), .double(-0.25), .double(1.0), .double(1e300), .double(.leastNonzeroMagnitude), .double(-1e-7),
            .string(""), .string("quote \" backslash \\ slash / tab \t nul \u{0} del \u{7f} emoji 🙂 é"),
            .array([]), .array([.int(1), .string("2"), .array([.null])]),
            .object([:]), .object(["a": .object(["b": .array([.bool(false), .double(2.5)])]), "": .string("empty key")]),
        ]
        for (i, value) in values.enumerated() {
            state.fields["f\(i) \u{2028}"] = FieldWrite(
                dot: Dot(actor: "max", counter: UInt64(i)), at: Timestamp(milliseconds: Int64.min + Int64(i)), value: value)
        }
        state.wholeWrite = FieldWrite(dot: Dot(actor: "~", counter: 3), at: Timestamp(milliseconds: Int64.max))
        try roundTrip(state)
        // `1.0` stays a double and `1` an int: the stored form keeps how the sender wrote it.
        #expect(try RecordState(json: state.jsonBytes).fields["f9 \u{2028}"]?.value == .double(1.0))
    }

    @Test func escapesWrittenByOtherWritersAreRead() throws {
        let text = #"{"version":{"\u00e9":1},"fields":{"t":["\u00e9",1,0,"\ud83d\ude42\/\b\f\n\r\t\"\\"]},"actors":["\u00e9"]}"#
        let state = try RecordState(json: Array(text.utf8))
        #expect(state.version["é"] == 1)
        #expect(state.fields["t"]?.value == .string("🙂/\u{8}\u{c}\n\r\t\"\\"))
        // Whitespace between tokens is allowed too.
        let spaced = try RecordState(json: Array(" { \"version\" : { \"a\" : 1 } , \"folds\" : 2 } \n".utf8))
        #expect(spaced.version["a"] == 1 && spaced.folds == 2)
    }

    @Test func everyTruncationIsRefused() throws {
        var book = RecordBook(maxActors: 2)
        for actor in ["alice", "bob", "carol"] {
            _ = try book.commit(
                post,
                Commit(
                    actor: actor, context: book.state(of: post)?.version ?? VersionVector(),
                    fields: ["t": .object(["k": .array([.double(1.5), .string("\"")])])]), now: Timestamp(milliseconds: 1))
        }
        let bytes = book.state(of: post)!.jsonBytes
        for n in 0..<bytes.count {
            #expect(throws: RecordStateJSONError.self) { try RecordState(json: Array(bytes.prefix(n))) }
        }
    }

    @Test(arguments: [
        #"[]"#, #"{"version":[]}"#, #"{"version":{"a":-1}}"#, #"{"version":{"a":1.5}}"#, #"{"version":{"a":"1"}}"#,
        #"{"version":{"a":18446744073709551616}}"#, #"{"version":{},"extra":1}"#, #"{"version":{}} x"#,
        #"{"fields":{"t":["a",1]}}"#, #"{"fields":{"t":["a",1,2,3,4]}}"#, #"{"fields":{"t":[1,1,2]}}"#,
        #"{"fields":{"t":["a",1,2.5]}}"#, #"{"fields":{"t":["a",1,2,01]}}"#, #"{"fields":{"t":["a",1,2,tru]}}"#,
        #"{"fields":{"t":["a",1,2,1e999]}}"#, #"{"fields":{"t":["a",1,2,"\ud83d"]}}"#, #"{"fields":{"t":["a",1,2,"\x"]}}"#,
        "{\"actors\":[\"a\u{1}\"]}", #"{"actors":["a" "b"]}"#, #"{"folds":-1}"#, #"{"version":{"a":1,}}"#, "",
    ])
    func malformedStoredStatesAreRefused(_ text: String) {
        #expect(throws: RecordStateJSONError.self) { try RecordState(json: Array(text.utf8)) }
    }

    @Test func deepNestingIsRefusedWithoutExhaustingTheStack() {
        let deep = #"{"fields":{"t":["a",1,2,"# + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "]}}"
        #expect(throws: RecordStateJSONError.self) { try RecordState(json: Array(deep.utf8)) }
    }
}

@Suite("Versions on the wire")
struct VersionVectorJSONTests {
    @Test func absentOrNullIsTheEmptyVersion() throws {
        #expect(try VersionVector.from(nil) == VersionVector())
        #expect(try VersionVector.from(.null) == VersionVector())
        #expect(try VersionVector.from(.object([:])) == VersionVector())
    }

    @Test func countersParseAndZeroesDrop() throws {
        let parsed = try VersionVector.from(.object(["alice": .int(2), "~": .int(1), "zero": .int(0), "max": .int(1 << 53), "whole": .double(3.0)]))
        #expect(parsed == VersionVector(["alice": 2, "~": 1, "max": 1 << 53, "whole": 3]))
        #expect(parsed.json == .object(["alice": .int(2), "~": .int(1), "max": .int(1 << 53), "whole": .int(3)]))
        #expect(try VersionVector.from(parsed.json) == parsed)
    }

    @Test func contextsFromClientTextParse() throws {
        let value = JSONParsing.value(from: Array(#"{"server": 1, "bob": 9007199254740992}"#.utf8))
        #expect(try VersionVector.from(value) == VersionVector(["server": 1, "bob": 1 << 53]))
    }

    @Test(arguments: [
        JSONValue.string("{}"), .array([]), .int(1), .bool(true),
        .object(["a": .int(-1)]), .object(["a": .int(Int64.min)]), .object(["a": .int((1 << 53) + 1)]), .object(["a": .int(Int64.max)]),
        .object(["a": .double(1.5)]), .object(["a": .double(-1.0)]), .object(["a": .double(-0.5)]), .object(["a": .double(1e300)]),
        .object(["a": .double(9007199254740994.0)]), .object(["a": .double(.nan)]), .object(["a": .double(.infinity)]),
        .object(["a": .string("1")]), .object(["a": .null]), .object(["a": .bool(true)]), .object(["a": .array([.int(1)])]),
        .object(["a": .object([:])]), .object(["": .int(1)]), .object([String(repeating: "x", count: 201): .int(1)]),
        .object(["ok": .int(1), "bad": .int(-3)]),
    ])
    func malformedVersionsAreInvalidFrames(_ json: JSONValue) {
        #expect(throws: ProtocolError.self) { try VersionVector.from(json) }
        do {
            _ = try VersionVector.from(json)
        } catch {
            #expect(error.code == .invalidFrame)
        }
    }

    @Test func malformedClientTextIsRefused() {
        for text in [#"{"a": 1.5}"#, #"{"a": -2}"#, #"{"a": 9007199254740993}"#, #"{"a": "1"}"#] {
            #expect(throws: ProtocolError.self) { try VersionVector.from(JSONParsing.value(from: Array(text.utf8))) }
        }
    }
}
