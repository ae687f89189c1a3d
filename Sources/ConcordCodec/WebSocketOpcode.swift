/// The opcode of an RFC 6455 frame (section 5.2); values 3-7 and 11-15 are reserved and rejected.
public enum WebSocketOpcode: UInt8, Sendable, Hashable {
    case continuation = 0x0
    case text = 0x1
    case binary = 0x2
    case close = 0x8
    case ping = 0x9
    case pong = 0xA

    /// Control frames (close, ping, pong) may interleave with fragments but never be fragmented.
    public var isControl: Bool { rawValue & 0x8 != 0 }
}
