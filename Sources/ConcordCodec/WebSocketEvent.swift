/// One thing the WebSocket decoder hands the caller: a whole message or a control frame's payload.
public enum WebSocketEvent: Sendable, Equatable {
    /// A complete text message, already checked to be valid UTF-8.
    case text([UInt8])
    case binary([UInt8])
    case ping([UInt8])
    case pong([UInt8])
    /// A close frame; `code` is nil when the peer sent no payload (RFC 6455 section 7.1.5: 1005).
    case close(code: UInt16?, reason: String)
}

/// Whether decoding may go on, or the close code and reason to fail the connection with.
public enum WebSocketDecodeStatus: Sendable, Equatable {
    case ok
    case failed(closeCode: UInt16, reason: String)
}
