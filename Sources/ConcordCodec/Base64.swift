/// Standard base64 (RFC 4648 section 4, with padding), just the encoding the handshake needs.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let input = Array(bytes)
        var output: [UInt8] = []
        output.reserveCapacity((input.count + 2) / 3 * 4)
        var index = 0
        while index < input.count {
            let remaining = input.count - index
            let b0 = UInt32(input[index])
            let b1 = remaining > 1 ? UInt32(input[index + 1]) : 0
            let b2 = remaining > 2 ? UInt32(input[index + 2]) : 0
            let group = b0 << 16 | b1 << 8 | b2
            output.append(alphabet[Int(group >> 18 & 0x3F)])
            output.append(alphabet[Int(group >> 12 & 0x3F)])
            output.append(remaining > 1 ? alphabet[Int(group >> 6 & 0x3F)] : UInt8(ascii: "="))
            output.append(remaining > 2 ? alphabet[Int(group & 0x3F)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Whether `text` is padded base64 that decodes to exactly `byteCount` bytes: the check a
    /// Sec-WebSocket-Key needs (RFC 6455 section 4.2.1). Unused low bits in the last character are
    /// tolerated, as decoders ignore them and a sloppy client generator may leave them set.
    static func isEncoding(ofByteCount byteCount: Int, _ text: some StringProtocol) -> Bool {
        let chars = Array(text.utf8)
        guard chars.count == (byteCount + 2) / 3 * 4 else { return false }
        let dataChars = chars.count - (3 - byteCount % 3) % 3
        for (index, char) in chars.enumerated() {
            let valid = index < dataChars ? alphabet.contains(char) : char == UInt8(ascii: "=")
            if !valid { return false }
        }
        return true
    }
}
