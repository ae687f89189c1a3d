/// Splits a request target into its path and its percent-decoded query parameters.
///
/// The path stays raw (not percent-decoded) so `%2F` can never turn into a route separator; routes
/// compare it byte for byte. Query keys and values are decoded the way browsers and `curl
/// --data-urlencode` encode them: `%XX` escapes and `+` for a space. A malformed escape is kept
/// literally rather than failing the request; bytes that do not form UTF-8 become U+FFFD. When a
/// key repeats, the first occurrence wins, so a later duplicate cannot override it.
enum HTTPTarget {
    static func split(_ target: String) -> (path: String, query: [String: String]) {
        var bytes = Array(target.utf8)
        if let hash = bytes.firstIndex(of: UInt8(ascii: "#")) {
            bytes.removeSubrange(hash...)
        }
        var pathStart = 0
        if bytes.first != UInt8(ascii: "/"), let scheme = schemeEnd(bytes) {
            // Absolute form ("http://host/path?q"): RFC 9112 section 3.2.2 says servers must accept it.
            pathStart =
                bytes[scheme...].firstIndex(of: UInt8(ascii: "/"))
                ?? bytes[scheme...].firstIndex(of: UInt8(ascii: "?")) ?? bytes.count
        }
        let questionMark = bytes[pathStart...].firstIndex(of: UInt8(ascii: "?")) ?? bytes.count
        var path = String(decoding: bytes[pathStart..<questionMark], as: UTF8.self)
        if path.isEmpty, pathStart > 0 { path = "/" }
        let query = questionMark < bytes.count ? parseQuery(bytes[(questionMark + 1)...]) : [:]
        return (path, query)
    }

    /// The index just past "://" when `bytes` starts with a URI scheme, else nil.
    private static func schemeEnd(_ bytes: [UInt8]) -> Int? {
        var index = 0
        while index < bytes.count, isSchemeByte(bytes[index]) { index += 1 }
        guard index > 0, index + 3 <= bytes.count,
            bytes[index] == UInt8(ascii: ":"), bytes[index + 1] == UInt8(ascii: "/"),
            bytes[index + 2] == UInt8(ascii: "/")
        else { return nil }
        return index + 3
    }

    private static func isSchemeByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."):
            return true
        default:
            return false
        }
    }

    /// Parses `a=1&b=two%20words&flag` into a dictionary; a key without "=" maps to "".
    static func parseQuery(_ query: ArraySlice<UInt8>) -> [String: String] {
        var result: [String: String] = [:]
        for pair in query.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let equals = pair.firstIndex(of: UInt8(ascii: "="))
            let key = percentDecode(pair[..<(equals ?? pair.endIndex)])
            let value = equals.map { percentDecode(pair[($0 + 1)...]) } ?? ""
            if result[key] == nil { result[key] = value }
        }
        return result
    }

    /// Decodes `%XX` escapes and `+` (form encoding's space) into a string.
    static func percentDecode(_ bytes: ArraySlice<UInt8>) -> String {
        guard bytes.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) else {
            return String(decoding: bytes, as: UTF8.self)
        }
        var decoded: [UInt8] = []
        decoded.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%"), index + 2 < bytes.endIndex,
                let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
            {
                decoded.append(high << 4 | low)
                index += 3
                continue
            }
            decoded.append(byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
            index += 1
        }
        return String(decoding: decoded, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
