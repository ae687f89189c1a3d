import ConcordCodec

extension HTTPParseOutcome {
    var request: HTTPRequest? {
        if case .request(let request, _) = self { return request }
        return nil
    }

    var consumed: Int? {
        if case .request(_, let consumed) = self { return consumed }
        return nil
    }

    var error: HTTPParseError? {
        if case .error(let error) = self { return error }
        return nil
    }

    var isNeedMore: Bool {
        if case .needMore = self { return true }
        return false
    }
}

extension HTTPRequestParser {
    func feed(_ text: String) -> HTTPParseOutcome {
        feed(Array(text.utf8))
    }

    func feed(_ bytes: [UInt8]) -> HTTPParseOutcome {
        bytes.withUnsafeBytes { feed($0) }
    }
}

/// Frames decoded from `bytes` fed in pieces ending at `cuts` (offsets into `bytes`).
func decode(
    _ bytes: [UInt8], role: WebSocketDecoder.Role = .server, maxMessageBytes: Int = 65_536, cuts: [Int] = []
) -> (events: [WebSocketEvent], status: WebSocketDecodeStatus) {
    var decoder = WebSocketDecoder(role: role, maxMessageBytes: maxMessageBytes)
    var events: [WebSocketEvent] = []
    var status = WebSocketDecodeStatus.ok
    var start = 0
    for end in cuts + [bytes.count] where end >= start {
        status = bytes[start..<end].withUnsafeBytes { decoder.decode($0) { events.append($0) } }
        start = end
    }
    return (events, status)
}

/// A masked client frame, as the server sees it.
func clientFrame(_ opcode: WebSocketOpcode, _ payload: [UInt8], fin: Bool = true, key: UInt32 = 0xA1B2_C3D4) -> [UInt8] {
    WebSocketFrameEncoder.encode(opcode: opcode, payload: payload, fin: fin, maskKey: key)
}

/// A raw frame with arbitrary first byte and masked payload, for malformed-header tests.
func rawClientFrame(first: UInt8, payload: [UInt8] = [], key: UInt32 = 0x0102_0304) -> [UInt8] {
    var frame = clientFrame(.binary, payload, key: key)
    frame[0] = first
    return frame
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
