/// Channel naming rules: 1 to 200 printable ASCII bytes, `*` reserved for permission patterns.
public enum ChannelName {
    public static let maxBytes = 200

    public static func validate(_ name: String) -> ProtocolError? {
        let utf8 = name.utf8
        guard !utf8.isEmpty, utf8.count <= maxBytes,
            utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E && $0 != UInt8(ascii: "*") })
        else {
            return ProtocolError(.invalidChannel, "channel must be 1 to \(maxBytes) printable ASCII bytes without \"*\"")
        }
        return nil
    }
}

/// A channel pattern such as `resources/*` (prefix) or `chat/room-1` (exact), as used by `--client-publish`.
public struct ChannelPattern: Sendable, Equatable, CustomStringConvertible {
    public let text: String

    public init(_ text: String) { self.text = text }

    public func matches(_ channel: String) -> Bool {
        if text == "*" { return true }
        if text.hasSuffix("*") { return channel.hasPrefix(text.dropLast()) }
        return channel == text
    }

    public var description: String { text }

    /// `*`, a channel name, or a channel name prefix followed by one `*`.
    public static func isValid(_ text: String) -> Bool {
        if text == "*" { return true }
        let name = text.hasSuffix("*") ? String(text.dropLast()) : text
        return ChannelName.validate(name) == nil
    }
}
