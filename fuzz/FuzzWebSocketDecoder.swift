// libFuzzer target for WebSocketDecoder, built by fuzz/run.sh together with the codec's sources.
//
// Besides "never crash", it checks properties any correct decoder has:
// - the result does not depend on how reads split the stream (whole vs. two vs. three pieces);
// - every event obeys the limits (message size, UTF-8 text, control payload size, close codes);
// - re-encoding the events and decoding them again gives the same events.

/// The first two input bytes choose the limit and the split points; the rest is the stream.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let stream = Array(UnsafeBufferPointer(start: data + 2, count: size - 2))
    let limits = [0, 3, 125, 126, 1_000, 65_536]
    let maxMessageBytes = limits[Int(data[0]) % limits.count]
    let cut = Int(data[1]) % (stream.count + 1)
    let secondCut = cut + (stream.count - cut) / 2
    for role in [WebSocketDecoder.Role.server, .client] {
        let whole = run(stream, role: role, maxMessageBytes: maxMessageBytes, cuts: [])
        let split = run(stream, role: role, maxMessageBytes: maxMessageBytes, cuts: [cut])
        let three = run(stream, role: role, maxMessageBytes: maxMessageBytes, cuts: [cut, secondCut])
        guard whole.events == split.events, whole.status == split.status,
            whole.events == three.events, whole.status == three.status
        else {
            fatalError("decoding depends on the split: \(whole) vs \(split) vs \(three)")
        }
        for event in whole.events { check(event, maxMessageBytes: maxMessageBytes) }
        let again = run(reencode(whole.events, role: role), role: role, maxMessageBytes: maxMessageBytes, cuts: [])
        guard again.events == whole.events, again.status == .ok else {
            fatalError("re-encoded events decode differently: \(whole.events) vs \(again)")
        }
    }
    return 0
}

private func run(
    _ stream: [UInt8], role: WebSocketDecoder.Role, maxMessageBytes: Int, cuts: [Int]
) -> (events: [WebSocketEvent], status: WebSocketDecodeStatus) {
    var decoder = WebSocketDecoder(role: role, maxMessageBytes: maxMessageBytes)
    var events: [WebSocketEvent] = []
    var status = WebSocketDecodeStatus.ok
    var start = 0
    for end in cuts + [stream.count] {
        // Copy each piece so AddressSanitizer catches any read past it.
        let piece = Array(stream[start..<end])
        status = piece.withUnsafeBytes { decoder.decode($0) { events.append($0) } }
        start = end
    }
    return (events, status)
}

private func check(_ event: WebSocketEvent, maxMessageBytes: Int) {
    switch event {
    case .text(let payload):
        precondition(payload.count <= maxMessageBytes, "text over the limit")
        precondition(String(validating: payload, as: UTF8.self) != nil, "invalid UTF-8 text emitted")
    case .binary(let payload):
        precondition(payload.count <= maxMessageBytes, "binary over the limit")
    case .ping(let payload), .pong(let payload):
        precondition(payload.count <= 125, "control payload over 125 bytes")
    case .close(let code, _):
        if let code { precondition(WebSocketDecoder.isValidCloseCode(code), "invalid close code emitted") }
    }
}

/// The frames a peer in the other role would send for these events.
private func reencode(_ events: [WebSocketEvent], role: WebSocketDecoder.Role) -> [UInt8] {
    var key: UInt32 = 0x1234_5678
    var stream: [UInt8] = []
    for event in events {
        key = key &* 1_664_525 &+ 1_013_904_223
        let mask: UInt32? = role == .server ? key : nil
        switch event {
        case .text(let payload): stream += WebSocketFrameEncoder.encode(opcode: .text, payload: payload, maskKey: mask)
        case .binary(let payload): stream += WebSocketFrameEncoder.encode(opcode: .binary, payload: payload, maskKey: mask)
        case .ping(let payload): stream += WebSocketFrameEncoder.encode(opcode: .ping, payload: payload, maskKey: mask)
        case .pong(let payload): stream += WebSocketFrameEncoder.encode(opcode: .pong, payload: payload, maskKey: mask)
        case .close(let code, let reason):
            let payload = code.map { WebSocketFrameEncoder.closePayload(code: $0, reason: reason) } ?? []
            stream += WebSocketFrameEncoder.encode(opcode: .close, payload: payload, maskKey: mask)
        }
    }
    return stream
}
