/// Turns the bytes read from a socket into WebSocket messages, enforcing RFC 6455 as it goes.
///
/// Feed it every chunk as it is read; it never keeps the caller's buffer. Whole frames are read
/// straight from the chunk (a complete unfragmented message costs one allocation and one
/// unmasking copy); only the tail of a frame cut by the end of a chunk is copied into the decoder.
/// Message limits are checked from the frame header, before any payload is buffered, and text is
/// validated as it arrives, so a bad prefix fails the connection without waiting for the rest.
///
/// After a `.failed` status the decoder stays failed; after a close frame it ignores further input
/// (nothing may follow a close). Limits: `maxMessageBytes` (default 65,536) bounds a message across
/// all its fragments; control payloads are at most 125 bytes by the protocol.
public struct WebSocketDecoder {
    /// Which side this decoder reads for: a server reads masked client frames, a client unmasked ones.
    public enum Role: Sendable {
        case server
        case client
    }

    public let role: Role
    public let maxMessageBytes: Int

    /// `.ok`, or the first failure, which sticks.
    public private(set) var status: WebSocketDecodeStatus = .ok
    /// True once a close frame has been decoded.
    public private(set) var isClosed = false

    /// The start of a frame header cut by the end of a chunk (at most 14 bytes).
    private var partialHeader: [UInt8] = []

    // The frame whose payload is being read.
    private var inPayload = false
    private var frameOpcode: WebSocketOpcode = .continuation
    private var frameFin = false
    private var frameMask: UInt32?
    private var frameRemaining = 0
    private var frameOffset = 0

    // The data message being assembled, possibly from several fragments.
    private var messageOpcode: WebSocketOpcode?
    private var message: [UInt8] = []
    private var utf8 = UTF8Validator()

    /// Payload of the control frame being read; kept apart because it may sit between fragments.
    private var control: [UInt8] = []

    public init(role: Role, maxMessageBytes: Int = 65_536) {
        precondition(maxMessageBytes >= 0, "negative message limit")
        self.role = role
        self.maxMessageBytes = maxMessageBytes
    }

    /// Decodes one chunk, calling `emit` for each complete message and control frame in order.
    /// Returns `.ok`, or the close code and reason to fail the connection with.
    public mutating func decode(
        _ bytes: UnsafeRawBufferPointer, _ emit: (WebSocketEvent) -> Void
    ) -> WebSocketDecodeStatus {
        guard status == .ok, !isClosed, let base = bytes.baseAddress else { return status }
        let count = bytes.count
        var index = 0
        while index < count, status == .ok, !isClosed {
            if inPayload {
                let available = count - index
                if frameOffset == 0, frameFin, frameRemaining <= available,
                    frameOpcode == .text || frameOpcode == .binary
                {
                    // A whole unfragmented message in this chunk: unmask it straight into the array
                    // handed to the caller, without going through the assembly buffer.
                    let start = UnsafeRawPointer(base + index)
                    index += frameRemaining
                    emitWholeMessage(start, emit)
                    continue
                }
                let take = min(frameRemaining, available)
                consumePayload(base + index, take)
                index += take
                if status == .ok, frameRemaining == 0 { finishFrame(emit) }
                continue
            }
            if partialHeader.isEmpty {
                let available = count - index
                let first = base.load(fromByteOffset: index, as: UInt8.self)
                guard available >= 2 else {
                    partialHeader.append(first)
                    index = count
                    continue
                }
                let second = base.load(fromByteOffset: index + 1, as: UInt8.self)
                guard checkFrameStart(first, second) else { break }
                let size = Self.headerSize(second)
                guard available >= size else {
                    partialHeader.append(contentsOf: UnsafeRawBufferPointer(start: base + index, count: available))
                    index = count
                    continue
                }
                beginFrame(UnsafeRawPointer(base + index), emit)
                index += size
            } else {
                // Complete a header split across chunks; at most 13 more bytes, so byte by byte is fine.
                partialHeader.append(base.load(fromByteOffset: index, as: UInt8.self))
                index += 1
                guard partialHeader.count >= 2 else { continue }
                if partialHeader.count == 2, !checkFrameStart(partialHeader[0], partialHeader[1]) { break }
                guard partialHeader.count == Self.headerSize(partialHeader[1]) else { continue }
                let header = partialHeader
                partialHeader.removeAll(keepingCapacity: true)
                header.withUnsafeBytes { beginFrame($0.baseAddress!, emit) }
            }
        }
        return status
    }

    // MARK: Frame headers

    /// Header size given its second byte: the length field's size and whether a mask key follows.
    private static func headerSize(_ second: UInt8) -> Int {
        let lengthCode = second & 0x7F
        let base = lengthCode == 126 ? 4 : (lengthCode == 127 ? 10 : 2)
        return second & 0x80 != 0 ? base + 4 : base
    }

    /// Every rule that the first two header bytes decide, checked before waiting for the rest.
    private mutating func checkFrameStart(_ first: UInt8, _ second: UInt8) -> Bool {
        if first & 0x70 != 0 {
            return fail(1002, "reserved bits set without a negotiated extension")
        }
        guard let opcode = WebSocketOpcode(rawValue: first & 0x0F) else {
            return fail(1002, "reserved opcode \(first & 0x0F)")
        }
        if opcode.isControl {
            if first & 0x80 == 0 { return fail(1002, "fragmented control frame") }
            if second & 0x7F > 125 { return fail(1002, "control frame payload over 125 bytes") }
        } else if opcode == .continuation {
            if messageOpcode == nil { return fail(1002, "continuation frame without a message in progress") }
        } else if messageOpcode != nil {
            return fail(1002, "new data frame while a fragmented message is in progress")
        }
        let masked = second & 0x80 != 0
        switch role {
        case .server where !masked: return fail(1002, "client frame is not masked")
        case .client where masked: return fail(1002, "server frame is masked")
        default: return true
        }
    }

    /// Reads a complete header (already checked by `checkFrameStart`) and sets up its payload.
    private mutating func beginFrame(_ header: UnsafeRawPointer, _ emit: (WebSocketEvent) -> Void) {
        let first = header.load(as: UInt8.self)
        let second = header.load(fromByteOffset: 1, as: UInt8.self)
        var length = UInt64(second & 0x7F)
        var offset = 2
        if length == 126 {
            length =
                UInt64(header.load(fromByteOffset: 2, as: UInt8.self)) << 8
                | UInt64(header.load(fromByteOffset: 3, as: UInt8.self))
            offset = 4
        } else if length == 127 {
            length = 0
            for i in 2..<10 { length = length << 8 | UInt64(header.load(fromByteOffset: i, as: UInt8.self)) }
            offset = 10
            if length & (1 << 63) != 0 {
                _ = fail(1002, "64-bit payload length has its most significant bit set")
                return
            }
        }
        var mask: UInt32?
        if second & 0x80 != 0 {
            var key: UInt32 = 0
            for i in 0..<4 { key = key << 8 | UInt32(header.load(fromByteOffset: offset + i, as: UInt8.self)) }
            mask = key
        }
        let opcode = WebSocketOpcode(rawValue: first & 0x0F)!
        if opcode.isControl {
            control = []
        } else {
            // Refuse before buffering anything: the header already tells the message's size.
            if UInt64(message.count) + length > UInt64(maxMessageBytes) {
                _ = fail(1009, "message over \(maxMessageBytes) bytes")
                return
            }
            if opcode != .continuation {
                messageOpcode = opcode
                utf8.reset()
            }
        }
        inPayload = true
        frameOpcode = opcode
        frameFin = first & 0x80 != 0
        frameMask = mask
        frameRemaining = Int(length)
        frameOffset = 0
        if frameRemaining == 0 { finishFrame(emit) }
    }

    // MARK: Payloads

    /// Appends (unmasks, validates) part of the current frame's payload.
    private mutating func consumePayload(_ source: UnsafeRawPointer, _ count: Int) {
        guard count > 0 else { return }
        let phase = frameOffset & 3
        frameOffset += count
        frameRemaining -= count
        let mask = frameMask
        if frameOpcode.isControl {
            let start = control.count
            control.append(contentsOf: UnsafeRawBufferPointer(start: source, count: count))
            if let mask {
                control.withUnsafeMutableBytes { buffer in
                    let region = buffer.baseAddress! + start
                    WebSocketMasking.apply(key: mask, phase: phase, from: region, to: region, count: count)
                }
            }
            return
        }
        let start = message.count
        if start == 0 {
            // Sized once, from the frame that starts the message (fragments after it grow the
            // buffer geometrically); an exact reserve per fragment would copy quadratically.
            message.reserveCapacity(count + frameRemaining)
        }
        message.append(contentsOf: UnsafeRawBufferPointer(start: source, count: count))
        let isText = messageOpcode == .text
        let valid = message.withUnsafeMutableBytes { buffer in
            let region = buffer.baseAddress! + start
            if let mask {
                WebSocketMasking.apply(key: mask, phase: phase, from: region, to: region, count: count)
            }
            return !isText || utf8.feed(UnsafeRawBufferPointer(start: region, count: count))
        }
        if !valid { _ = fail(1007, Self.invalidText) }
    }

    /// The fast path for an unfragmented data frame whose whole payload is in the current chunk.
    private mutating func emitWholeMessage(_ source: UnsafeRawPointer, _ emit: (WebSocketEvent) -> Void) {
        let count = frameRemaining
        let mask = frameMask
        let payload = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 {
                let destination = UnsafeMutableRawPointer(buffer.baseAddress!)
                if let mask {
                    WebSocketMasking.apply(key: mask, phase: 0, from: source, to: destination, count: count)
                } else {
                    destination.copyMemory(from: source, byteCount: count)
                }
            }
            initialized = count
        }
        inPayload = false
        frameRemaining = 0
        messageOpcode = nil
        if frameOpcode == .text {
            var validator = UTF8Validator()
            guard payload.withUnsafeBytes({ validator.feed($0) }) else {
                _ = fail(1007, Self.invalidText)
                return
            }
            guard validator.isComplete else {
                _ = fail(1007, Self.truncatedText)
                return
            }
            emit(.text(payload))
        } else {
            emit(.binary(payload))
        }
    }

    /// Called when the current frame's payload is complete.
    private mutating func finishFrame(_ emit: (WebSocketEvent) -> Void) {
        inPayload = false
        switch frameOpcode {
        case .ping:
            emit(.ping(control))
            control = []
        case .pong:
            emit(.pong(control))
            control = []
        case .close:
            finishClose(emit)
        case .text, .binary, .continuation:
            guard frameFin else { return }
            let isText = messageOpcode == .text
            if isText, !utf8.isComplete {
                _ = fail(1007, Self.truncatedText)
                return
            }
            let payload = message
            message = []
            messageOpcode = nil
            emit(isText ? .text(payload) : .binary(payload))
        }
    }

    private mutating func finishClose(_ emit: (WebSocketEvent) -> Void) {
        let payload = control
        control = []
        switch WebSocketCloseFrame(payload: payload) {
        case .valid(let code, let reason):
            isClosed = true
            emit(.close(code: code, reason: reason))
        case .invalid(let closeCode, let reason):
            _ = fail(closeCode, reason)
        }
    }

    // One wording per failure, whichever path (whole frame or streamed) detects it.
    private static let invalidText = "text message is not valid UTF-8"
    private static let truncatedText = "text message ends inside a UTF-8 sequence"

    /// Records the first failure; returns false so checks can `return fail(...)`.
    private mutating func fail(_ code: UInt16, _ reason: String) -> Bool {
        if status == .ok { status = .failed(closeCode: code, reason: reason) }
        return false
    }
}
