/// Parses client-supplied JSON text into a `JSONValue`, refusing anything that is not an object.
public enum JSONParsing {
    /// Nesting deeper than this is refused before it can cost stack or time.
    public static let maxDepth = 32

    public static func object(from bytes: [UInt8]) -> [String: JSONValue]? {
        value(from: bytes)?.objectValue
    }

    public static func value(from bytes: [UInt8]) -> JSONValue? {
        JSONReader.parse(bytes, maxDepth: maxDepth)
    }
}
