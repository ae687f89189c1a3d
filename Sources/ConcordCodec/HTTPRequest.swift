/// One parsed HTTP/1.1 request, as the router and the WebSocket handshake read it.
public struct HTTPRequest: Sendable {
    public var method: String
    /// The request target exactly as sent, e.g. `/v1/ws?user=alice`.
    public var target: String
    /// The target's path, not percent-decoded, without query or fragment.
    public var path: String
    /// The target's query parameters, percent-decoded; the first of repeated keys wins.
    public var query: [String: String]
    /// Header fields in the order received, names as sent; trailing whitespace is trimmed from values.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Whether the connection may carry another request after this one (HTTP/1.1 default,
    /// `Connection: close`, HTTP/1.0 `keep-alive`).
    public var keepAlive: Bool
    /// The request asked to switch protocols (`Upgrade` with `Connection: upgrade`, or CONNECT);
    /// the bytes after it belong to the new protocol.
    public var isUpgrade: Bool
    public var version: (major: Int, minor: Int)

    /// Builds a request by hand (tests, clients); `path` and `query` are derived from `target`.
    public init(
        method: String = "GET", target: String = "/", headers: [(name: String, value: String)] = [],
        body: [UInt8] = [], keepAlive: Bool = true, isUpgrade: Bool = false,
        version: (major: Int, minor: Int) = (1, 1)
    ) {
        self.method = method
        self.target = target
        (self.path, self.query) = HTTPTarget.split(target)
        self.headers = headers
        self.body = body
        self.keepAlive = keepAlive
        self.isUpgrade = isUpgrade
        self.version = version
    }

    /// The value of header `name`, compared case-insensitively. Repeated fields are joined with
    /// ", " as RFC 9110 section 5.3 allows, so a token list split over two lines reads as one.
    public func header(_ name: String) -> String? {
        HTTPHeaderFields.value(of: name, in: headers)
    }

    /// The token of `Authorization: Bearer TOKEN` (the scheme in any case, blanks around the token
    /// ignored), or nil. Byte by byte: every backend request asks.
    public var bearerToken: String? {
        guard let value = header("authorization") else { return nil }
        let bytes = Array(value.utf8)
        let scheme = Array("bearer ".utf8)
        guard bytes.count > scheme.count, zip(bytes, scheme).allSatisfy({ $0 | 0x20 == $1 || ($1 == 0x20 && $0 == 0x20) }) else {
            return nil
        }
        var start = scheme.count, end = bytes.count
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        return start < end ? String(decoding: bytes[start..<end], as: UTF8.self) : nil
    }

    /// Whether the Content-Type's media type is `type` (in any case; parameters such as
    /// `; charset=utf-8` allowed).
    public func hasMediaType(_ type: String) -> Bool {
        guard let value = header("content-type") else { return false }
        var bytes = Array(value.utf8)
        if let semicolon = bytes.firstIndex(of: UInt8(ascii: ";")) { bytes.removeSubrange(semicolon...) }
        var start = 0, end = bytes.count
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        let wanted = Array(type.utf8)
        guard end - start == wanted.count else { return false }
        return zip(bytes[start..<end], wanted).allSatisfy { a, b in a == b || (a | 0x20 == b | 0x20 && (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A) }
    }

    /// Whether header `name` is a comma-separated list containing `token` (case-insensitive), as
    /// in `Connection: keep-alive, Upgrade`.
    public func headerContainsToken(_ name: String, _ token: String) -> Bool {
        HTTPHeaderFields.contains(token: token, in: name, headers)
    }
}

/// Header lookups shared by requests and the client's check of a handshake response.
enum HTTPHeaderFields {
    static func value(of name: String, in headers: [(name: String, value: String)]) -> String? {
        var found: String?
        for field in headers where field.name.asciiCaseInsensitiveEquals(name) {
            found = found.map { $0 + ", " + field.value } ?? field.value
        }
        return found
    }

    static func contains(token: String, in name: String, _ headers: [(name: String, value: String)]) -> Bool {
        for field in headers where field.name.asciiCaseInsensitiveEquals(name) {
            for item in field.value.split(separator: ",") where trimmed(item).asciiCaseInsensitiveEquals(token) {
                return true
            }
        }
        return false
    }

    /// `text` without leading and trailing spaces and tabs (HTTP's optional whitespace).
    static func trimmed(_ text: Substring) -> Substring {
        var text = text
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        return text
    }
}

extension StringProtocol {
    /// Equality ignoring ASCII case only, which is what HTTP names and tokens need; no Unicode
    /// case folding, no Foundation.
    func asciiCaseInsensitiveEquals(_ other: some StringProtocol) -> Bool {
        // Most header names differ in length: no byte need be compared.
        guard utf8.count == other.utf8.count else { return false }
        var left = utf8.makeIterator()
        var right = other.utf8.makeIterator()
        while true {
            switch (left.next(), right.next()) {
            case (nil, nil):
                return true
            case let (a?, b?):
                if a == b { continue }
                if a | 0x20 == b | 0x20, (a | 0x20) >= UInt8(ascii: "a"), (a | 0x20) <= UInt8(ascii: "z") {
                    continue
                }
                return false
            default:
                return false
            }
        }
    }
}
