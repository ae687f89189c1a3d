/// A received close frame's payload judged by RFC 6455 sections 5.5.1 and 7.4.
enum WebSocketCloseFrame: Equatable {
    /// `code` is nil for an empty payload.
    case valid(code: UInt16?, reason: String)
    /// The close code and reason to fail the connection with.
    case invalid(closeCode: UInt16, reason: String)

    init(payload: [UInt8]) {
        guard !payload.isEmpty else {
            self = .valid(code: nil, reason: "")
            return
        }
        guard payload.count >= 2 else {
            self = .invalid(closeCode: 1002, reason: "close payload of 1 byte")
            return
        }
        let code = UInt16(payload[0]) << 8 | UInt16(payload[1])
        guard WebSocketDecoder.isValidCloseCode(code) else {
            self = .invalid(closeCode: 1002, reason: "invalid close code \(code)")
            return
        }
        let reason = payload[2...]
        guard reason.withUnsafeBytes({ UTF8Validator.isValid($0) }) else {
            self = .invalid(closeCode: 1007, reason: "close reason is not valid UTF-8")
            return
        }
        self = .valid(code: code, reason: String(decoding: reason, as: UTF8.self))
    }
}

extension WebSocketDecoder {
    /// Codes a peer may send: the defined ones that are not reserved for local use (1004-1006,
    /// 1015), plus the ranges for libraries (3000-3999) and applications (4000-4999).
    public static func isValidCloseCode(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1011, 3000...4999: return true
        default: return false
        }
    }
}
