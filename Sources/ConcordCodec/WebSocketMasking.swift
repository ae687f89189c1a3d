/// XOR masking of frame payloads (RFC 6455 section 5.3), shared by the encoder and the decoder.
///
/// A mask key is the four key bytes in wire order read as a big-endian `UInt32`, so `0x11223344`
/// goes on the wire as `11 22 33 44` and masks payload byte `i` with byte `i % 4` of that sequence.
enum WebSocketMasking {
    /// Byte `index` (0...3) of `key` in wire order.
    @inline(__always)
    static func keyByte(_ key: UInt32, _ index: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: key >> UInt32(24 - 8 * (index & 3)))
    }

    /// Masks (or unmasks: XOR is its own inverse) `count` bytes from `source` into `destination`,
    /// which may be the same memory. `phase` is the payload offset of the first byte modulo 4, so a
    /// payload that arrives in pieces can be unmasked piece by piece.
    static func apply(
        key: UInt32, phase: Int,
        from source: UnsafeRawPointer, to destination: UnsafeMutableRawPointer, count: Int
    ) {
        guard count > 0 else { return }
        // Eight key bytes laid out in memory in the order they apply, so one XOR covers a word
        // whatever the host's byte order.
        var pattern: UInt64 = 0
        withUnsafeMutableBytes(of: &pattern) { bytes in
            for i in 0..<8 { bytes[i] = keyByte(key, phase + i) }
        }
        var offset = 0
        while offset + 8 <= count {
            let word = source.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            destination.storeBytes(of: word ^ pattern, toByteOffset: offset, as: UInt64.self)
            offset += 8
        }
        // Eight is a multiple of four, so the tail starts at the same key phase as the first word.
        while offset < count {
            let byte = source.load(fromByteOffset: offset, as: UInt8.self)
            destination.storeBytes(of: byte ^ keyByte(key, phase + offset), toByteOffset: offset, as: UInt8.self)
            offset += 1
        }
    }
}
