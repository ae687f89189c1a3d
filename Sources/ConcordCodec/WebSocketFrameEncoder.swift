/// Builds RFC 6455 frames; `writeHeader` lets the server frame an event once and reuse the bytes.
///
/// The server sends unmasked frames (`maskKey: nil`); a client must mask every frame with a fresh
/// random key (RFC 6455 section 5.3). The encoder does not check that control payloads stay within
/// 125 bytes: `closePayload` keeps close frames within it, and ping payloads are the caller's.
public enum WebSocketFrameEncoder {
    /// The largest header any frame can have: 2 + 8 (64-bit length) + 4 (mask key).
    public static let maxHeaderSize = 14

    /// The most reason bytes a close frame can carry: 125 minus the 2-byte code.
    public static let maxCloseReasonBytes = 123

    /// The size of the header `writeHeader` writes for this payload size.
    @inlinable
    public static func headerSize(payloadCount: Int, masked: Bool) -> Int {
        let base = payloadCount < 126 ? 2 : (payloadCount <= 0xFFFF ? 4 : 10)
        return masked ? base + 4 : base
    }

    /// Writes a frame header at the start of `buffer` and returns its size; the payload (masked by
    /// the caller when `maskKey` is given) goes right after it. `buffer` must hold `headerSize` bytes.
    @discardableResult
    public static func writeHeader(
        opcode: WebSocketOpcode, payloadCount: Int, fin: Bool = true, maskKey: UInt32? = nil,
        into buffer: UnsafeMutableRawBufferPointer
    ) -> Int {
        precondition(payloadCount >= 0, "negative payload size")
        let size = headerSize(payloadCount: payloadCount, masked: maskKey != nil)
        precondition(buffer.count >= size, "buffer too small for a WebSocket frame header")
        buffer[0] = (fin ? 0x80 : 0) | opcode.rawValue
        let maskBit: UInt8 = maskKey == nil ? 0 : 0x80
        var index: Int
        if payloadCount < 126 {
            buffer[1] = maskBit | UInt8(payloadCount)
            index = 2
        } else if payloadCount <= 0xFFFF {
            buffer[1] = maskBit | 126
            buffer[2] = UInt8(truncatingIfNeeded: payloadCount >> 8)
            buffer[3] = UInt8(truncatingIfNeeded: payloadCount)
            index = 4
        } else {
            buffer[1] = maskBit | 127
            let length = UInt64(payloadCount)
            for i in 0..<8 {
                buffer[2 + i] = UInt8(truncatingIfNeeded: length >> UInt64(56 - 8 * i))
            }
            index = 10
        }
        if let key = maskKey {
            for i in 0..<4 { buffer[index + i] = WebSocketMasking.keyByte(key, i) }
            index += 4
        }
        return index
    }

    /// One complete frame: header plus payload, masked when `maskKey` is given.
    public static func encode(
        opcode: WebSocketOpcode, payload: some Collection<UInt8>, fin: Bool = true, maskKey: UInt32? = nil
    ) -> [UInt8] {
        let count = payload.count
        let header = headerSize(payloadCount: count, masked: maskKey != nil)
        return [UInt8](unsafeUninitializedCapacity: header + count) { storage, initialized in
            let raw = UnsafeMutableRawBufferPointer(storage)
            writeHeader(opcode: opcode, payloadCount: count, fin: fin, maskKey: maskKey, into: raw)
            let body = raw.baseAddress! + header
            let copied: Void? = payload.withContiguousStorageIfAvailable { source in
                if let base = source.baseAddress { body.copyMemory(from: base, byteCount: count) }
            }
            if copied == nil {
                var index = header
                for byte in payload {
                    storage[index] = byte
                    index += 1
                }
            }
            if let key = maskKey {
                WebSocketMasking.apply(key: key, phase: 0, from: body, to: body, count: count)
            }
            initialized = header + count
        }
    }

    /// A close frame's payload: the code big-endian, then the reason cut to fit 125 bytes without
    /// splitting a UTF-8 sequence (a peer must fail a close whose reason is not valid UTF-8).
    public static func closePayload(code: UInt16, reason: String) -> [UInt8] {
        var payload: [UInt8] = [UInt8(code >> 8), UInt8(code & 0xFF)]
        var utf8 = Array(reason.utf8)
        if utf8.count > maxCloseReasonBytes {
            var cut = maxCloseReasonBytes
            while cut > 0 && utf8[cut] & 0xC0 == 0x80 { cut -= 1 }
            utf8.removeSubrange(cut...)
        }
        payload.append(contentsOf: utf8)
        return payload
    }
}
