/// Names one client session (a WebSocket connection) on this node, as a value: what presence,
/// editing sessions and the backends keep, rather than the connection object itself, so that a
/// store in another process can hold it and a closed connection leaves nothing alive behind.
public struct SessionID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let number: UInt64

    public init(_ number: UInt64) { self.number = number }

    /// As `welcome.session` shows it: `c17`.
    public var description: String { "c\(number)" }

    public static func < (a: SessionID, b: SessionID) -> Bool { a.number < b.number }
}
