/// Parses client-supplied JSON text into a `JSONValue`, refusing anything that is not an object.
public enum JSONParsing {
    /// Nesting deeper than this is refused before it can cost stack or time.
    public static let maxDepth = 32

    public static func object(from bytes: [UInt8]) -> [String: JSONValue]? {
        value(from: bytes)?.objectValue
    }

    public static func value(from bytes: [UInt8]) -> JSONValue? {
        try? parse(bytes).get()
    }

    /// The value, or why the text is not JSON and where.
    public static func parse(_ bytes: [UInt8]) -> Result<JSONValue, JSONParseError> {
        JSONReader.parse(bytes, maxDepth: maxDepth).mapError { JSONParseError(reason: $0.reason, offset: $0.offset) }
    }

    /// A JSON object, or the `invalid_json` error that says what `what` (a message, a body) is
    /// instead: not JSON (why, at which byte), or JSON of another kind.
    public static func object(from bytes: [UInt8], _ what: String) -> Result<[String: JSONValue], ProtocolError> {
        switch parse(bytes) {
        case .failure(let failure):
            return .failure(ProtocolError(.invalidJSON, "\(what) is not valid JSON: \(failure)"))
        case .success(.object(let object)):
            return .success(object)
        case .success(let other):
            return .failure(ProtocolError(.invalidJSON, "\(what) must be a JSON object, not \(other.kindName)"))
        }
    }
}

/// Why a text is not JSON, and the byte offset (from 0) where that was found.
public struct JSONParseError: Error, Equatable, Sendable, CustomStringConvertible {
    public var reason: String
    public var offset: Int

    public var description: String { "\(reason) at byte \(offset)" }
}

extension JSONValue {
    /// The kind of value, as an error message names it.
    public var kindName: String {
        switch self {
        case .object: return "an object"
        case .array: return "an array"
        case .string: return "a string"
        case .int, .double: return "a number"
        case .bool: return "a boolean"
        case .null: return "null"
        }
    }
}
