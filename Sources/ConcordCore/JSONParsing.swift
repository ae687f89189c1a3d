import Foundation

/// Parses client-supplied JSON text into a `JSONValue`, refusing anything that is not an object.
public enum JSONParsing {
    /// Nesting deeper than this is refused before it can cost stack or time.
    public static let maxDepth = 32

    public static func object(from bytes: [UInt8]) -> [String: JSONValue]? {
        guard nestingDepth(of: bytes) <= maxDepth else { return nil }
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)) else { return nil }
        return value.objectValue
    }

    public static func value(from bytes: [UInt8]) -> JSONValue? {
        guard nestingDepth(of: bytes) <= maxDepth else { return nil }
        return try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    /// The deepest bracket nesting outside strings: a cheap pre-check so hostile input never reaches
    /// the recursive decoder.
    static func nestingDepth(of bytes: [UInt8]) -> Int {
        var depth = 0, deepest = 0, inString = false, escaped = false
        for b in bytes {
            if inString {
                if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch b {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > deepest { deepest = depth }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        return deepest
    }
}
