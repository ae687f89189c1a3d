/// What a connection may do on a channel. Tokens grant them per channel pattern (`caps` claim).
public struct Capabilities: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Subscribe to the channel's events, and read its records' versions (`record.get`).
    public static let subscribe = Capabilities(rawValue: 1 << 0)
    /// Publish events on the channel from a WebSocket.
    public static let publish = Capabilities(rawValue: 1 << 1)
    /// Enter, update and leave the channel's presence, and watch it.
    public static let presence = Capabilities(rawValue: 1 << 2)
    /// Send typing signals on the channel, and watch them.
    public static let typing = Capabilities(rawValue: 1 << 3)
    /// Edit, commit and delete the channel's records (and read their versions).
    public static let commit = Capabilities(rawValue: 1 << 4)
    public static let all: Capabilities = [.subscribe, .publish, .presence, .typing, .commit]

    static let names: [(String, Capabilities)] = [
        ("subscribe", .subscribe), ("publish", .publish), ("presence", .presence),
        ("typing", .typing), ("commit", .commit), ("*", .all),
    ]

    /// The capability a claim names (`"subscribe"`, ..., or `"*"` for all), or nil.
    public init?(name: String) {
        guard let found = Self.names.first(where: { $0.0 == name }) else { return nil }
        self = found.1
    }

    public var description: String {
        Self.names.dropLast().filter { contains($0.1) }.map(\.0).joined(separator: ", ")
    }
}
