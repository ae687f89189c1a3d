import Foundation
import Testing
@testable import ConcordCore

@Suite("The JSON reader")
struct JSONReaderTests {
    func read(_ text: String) -> JSONValue? { JSONParsing.value(from: Array(text.utf8)) }

    @Test func values() {
        #expect(
            read(#" {"a": [1, -2, 3.5, 1e3, true, false, null, "x"]} "#)
                == .object(["a": .array([.int(1), .int(-2), .double(3.5), .double(1000), .bool(true), .bool(false), .null, .string("x")])]))
        #expect(read("9223372036854775807") == .int(Int64.max))
        #expect(read("9223372036854775808") == .double(9223372036854775808))
        #expect(read("-0") == .int(0))
        #expect(read(#""\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00""#) == .string("\"\\/\u{8}\u{C}\n\r\té😀"))
        #expect(read(#""é plain""#) == .string("é plain"))
        #expect(read(#"{"k":1,"k":2}"#) == nil, "repeated names are refused")
        #expect(read("[]") == .array([]) && read("{}") == .object([:]))
    }

    @Test(arguments: [
        "", " ", "[", "]", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "[1,]", "[1 2]", "01", "1.", ".5", "+1", "1e", "--1",
        "tru", "nul", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"a\nb\"",
        "1 2", "{} x", "NaN", "Infinity", "1e400", "{'a':1}", "[\"\\u0000\"x]",
    ])
    func rejects(text: String) {
        #expect(read(text) == nil, "accepted \(text.debugDescription)")
    }

    /// What an `invalid_json` answer says: which rule the text broke, and at which byte.
    @Test(arguments: [
        (#"{"op":"ping","id":7"#, "the text ends early (truncated?): expected ',' or '}' at byte 19"),
        (#"{"op":"ping","op":"pong"}"#, #"repeated member name "op" at byte 13"#),
        (String(repeating: "[", count: 40) + String(repeating: "]", count: 40), "nested deeper than 32 levels at byte 32"),
        ("hello", "expected a value, found 'h' at byte 0"),
        (#"{"a":1} x"#, "unexpected data after the JSON value at byte 8"),
        (#"{"a" 1}"#, "expected ':' after a member name, found '1' at byte 5"),
        ("[1,2", "the text ends early (truncated?): expected ',' or ']' at byte 4"),
        (#""abc"#, "the text ends early (truncated?): a string is not closed at byte 0"),
        ("tru", "the text ends early (truncated?): expected true at byte 3"),
        (#""a\qb""#, "an unknown escape at byte 2"),
        ("", "the text ends early (truncated?): expected a value at byte 0"),
    ])
    func failuresSayWhatAndWhere(text: String, expected: String) {
        guard case .failure(let failure) = JSONParsing.parse(Array(text.utf8)) else {
            Issue.record("accepted \(text.debugDescription)")
            return
        }
        #expect(failure.description == expected)
    }

    @Test func anInvalidJSONAnswerNamesWhatItGotInstead() {
        func message(_ text: String) -> String? {
            if case .failure(let error) = JSONParsing.object(from: Array(text.utf8), "the message") { return error.message }
            return nil
        }
        #expect(message("[1,2]") == "the message must be a JSON object, not an array")
        #expect(message("null") == "the message must be a JSON object, not null")
        #expect(message(#"{"a":1,}"#) == "the message is not valid JSON: expected a member name in double quotes, found '}' at byte 7")
        #expect(message(#"{"a":1}"#) == nil)
    }

    @Test func invalidUTF8AndDepth() {
        #expect(JSONParsing.value(from: [0x22, 0xC3, 0x28, 0x22]) == nil)
        #expect(read(String(repeating: "[", count: 32) + String(repeating: "]", count: 32)) != nil)
        #expect(read(String(repeating: "[", count: 33) + String(repeating: "]", count: 33)) == nil)
        #expect(read(String(repeating: "[", count: 100_000)) == nil)
    }

    /// The reader agrees with Foundation's decoder on every input both accept.
    @Test func agreesWithFoundation() throws {
        let samples = [
            #"{"op":"subscribe","id":1,"sub":"s1","channel":"resources/posts","types":["*"],"params":{"ids":[1,"2"]}}"#,
            #"{"event":{"channel":"c","type":"t","payload":{"x":[1.25,-0.5,1e-7,12345678901234]},"meta":{"a":null}}}"#,
            #"["\u00e9\ud83d\ude00\n", 0, -1, 2.0, true]"#,
        ]
        for text in samples {
            let foundation = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
            #expect(Self.normalized(read(text)!) == Self.normalized(foundation), "\(text)")
        }
    }

    static func normalized(_ value: JSONValue) -> JSONValue {
        switch value {
        case .int(let i): return .double(Double(i))
        case .array(let a): return .array(a.map(normalized))
        case .object(let o): return .object(o.mapValues(normalized))
        default: return value
        }
    }
}
