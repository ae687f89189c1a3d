/// A compact JWS (`header.payload.signature`, RFC 7515) split and decoded, before any signature check.
public struct TokenParts: Sendable, Equatable {
    /// Tokens longer than this are refused unread.
    public static let maxBytes = 8_192

    /// The header's `alg` (`HS256`, `RS256`, `ES256`, ...).
    public var algorithm: String
    /// The header's `kid`, naming the key in a key set.
    public var keyID: String?
    /// The decoded claims object.
    public var claims: [String: JSONValue]
    /// The bytes the signature covers: the first two parts as sent.
    public var signingInput: [UInt8]
    public var signature: [UInt8]

    public static func parse(_ token: String) throws(ProtocolError) -> TokenParts {
        let bytes = Array(token.utf8)
        guard !bytes.isEmpty, bytes.count <= maxBytes else {
            throw ProtocolError(.unauthorized, "the token must be 1 to \(maxBytes) bytes")
        }
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            throw ProtocolError(.unauthorized, "the token is not a signed JWT (header.payload.signature)")
        }
        guard let headerBytes = Base64URL.decode(parts[0]), let payloadBytes = Base64URL.decode(parts[1]),
            let signature = Base64URL.decode(parts[2])
        else {
            throw ProtocolError(.unauthorized, "the token is not base64url encoded")
        }
        guard let header = JSONParsing.object(from: headerBytes) else {
            throw ProtocolError(.unauthorized, "the token's header is not a JSON object")
        }
        guard let claims = JSONParsing.object(from: payloadBytes) else {
            throw ProtocolError(.unauthorized, "the token's claims are not a JSON object")
        }
        guard case .string(let algorithm)? = header["alg"] else {
            throw ProtocolError(.unauthorized, "the token's header has no \"alg\"")
        }
        if header["crit"] != nil {
            throw ProtocolError(.unauthorized, "the token's header has critical extensions (\"crit\"), which Concord does not support")
        }
        var keyID: String?
        switch header["kid"] {
        case nil, .null?: break
        case .string(let kid)?: keyID = kid
        default: throw ProtocolError(.unauthorized, "the token's \"kid\" must be a string")
        }
        return TokenParts(
            algorithm: algorithm, keyID: keyID, claims: claims,
            signingInput: Array(bytes[..<(parts[0].count + 1 + parts[1].count)]), signature: signature)
    }
}

/// Base64url without padding (RFC 4648 section 5), as JWTs use it. Strict: no padding, no spaces,
/// and the unused bits of the last character must be zero, so every input has one decoding.
public enum Base64URL {
    public static func decode<Bytes: Collection>(_ text: Bytes) -> [UInt8]? where Bytes.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(text.count * 3 / 4)
        var buffer: UInt32 = 0
        var bits = 0
        for c in text {
            guard let v = value(c) else { return nil }
            buffer = (buffer << 6) | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
                buffer &= (1 << UInt32(bits)) - 1
            }
        }
        // One leftover character (6 bits) cannot end a valid encoding; leftover bits must be zero.
        guard bits < 6, buffer == 0 else { return nil }
        return out
    }

    public static func encode(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let chunk = bytes[i..<min(i + 3, bytes.count)]
            var n: UInt32 = 0
            for b in chunk { n = (n << 8) | UInt32(b) }
            n <<= UInt32(8 * (3 - chunk.count))
            for k in 0...chunk.count { out.append(alphabet[Int((n >> UInt32(18 - 6 * k)) & 63)]) }
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func value(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return c - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return c - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0") + 52
        case UInt8(ascii: "-"): return 62
        case UInt8(ascii: "_"): return 63
        default: return nil
        }
    }
}
