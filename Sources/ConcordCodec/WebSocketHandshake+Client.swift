extension WebSocketHandshake {
    /// What a client learns from the bytes it has read since sending its upgrade request.
    public enum ClientResponse: Equatable, Sendable {
        /// The response head is not complete yet: read more and call again with all bytes so far.
        case needMore
        /// The server switched protocols; the first `consumed` bytes were the response head and
        /// anything after them is already WebSocket frames.
        case accepted(consumed: Int)
        case rejected(String)
    }

    /// A client gives up on a response head larger than this.
    public static let maxResponseHeadBytes = 16_384

    /// A fresh random `Sec-WebSocket-Key` (16 random bytes, base64).
    public static func makeClientKey() -> String {
        var generator = SystemRandomNumberGenerator()
        return makeClientKey(using: &generator)
    }

    /// A `Sec-WebSocket-Key` from the given generator, so tests can make it deterministic.
    public static func makeClientKey(using generator: inout some RandomNumberGenerator) -> String {
        Base64.encode((0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    /// Checks the server's answer to `clientRequest(... key: key)`: status 101, `Upgrade:
    /// websocket`, `Connection: Upgrade` and the accept key derived from `key`.
    public static func checkResponse(_ bytes: UnsafeRawBufferPointer, key: String) -> ClientResponse {
        guard let end = headEnd(bytes) else {
            return bytes.count > maxResponseHeadBytes ? .rejected("response head over \(maxResponseHeadBytes) bytes") : .needMore
        }
        let head = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[..<end]), as: UTF8.self)
        // "\r\n" is a single Character in Swift, so it works as a separator.
        let lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusParts = lines[0].split(separator: " ", maxSplits: 2)
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), statusParts[1] == "101" else {
            return .rejected("expected 101 Switching Protocols, got \"\(lines[0])\"")
        }
        var headers: [(name: String, value: String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { return .rejected("malformed header line \"\(line)\"") }
            let value = HTTPHeaderFields.trimmed(line[line.index(after: colon)...])
            headers.append((name: String(line[..<colon]), value: String(value)))
        }
        guard HTTPHeaderFields.contains(token: "websocket", in: "Upgrade", headers) else {
            return .rejected("missing \"Upgrade: websocket\"")
        }
        guard HTTPHeaderFields.contains(token: "upgrade", in: "Connection", headers) else {
            return .rejected("missing \"Connection: Upgrade\"")
        }
        guard HTTPHeaderFields.value(of: "Sec-WebSocket-Accept", in: headers) == acceptKey(for: key) else {
            return .rejected("wrong or missing Sec-WebSocket-Accept")
        }
        return .accepted(consumed: end + 4)
    }

    /// The offset of the blank line ("\r\n\r\n") ending a response head, if it has arrived.
    private static func headEnd(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= 4 else { return nil }
        let limit = min(bytes.count, maxResponseHeadBytes + 4) - 4
        var index = 0
        while index <= limit {
            if bytes[index] == 13, bytes[index + 1] == 10, bytes[index + 2] == 13, bytes[index + 3] == 10 {
                return index
            }
            index += 1
        }
        return nil
    }
}
