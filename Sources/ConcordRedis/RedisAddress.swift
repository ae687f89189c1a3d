import Foundation

/// Where Redis is, as `--redis` names it: `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB][?prefix=PREFIX]`.
/// The password may be percent-encoded; the prefix (default `concord`) starts every key and channel
/// name, so that several deployments can share one Redis.
public struct RedisAddress: Equatable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String?
    public var password: String?
    public var database: Int
    public var prefix: String

    public static let defaultPort = 6379
    public static let defaultPrefix = "concord"

    public init(host: String, port: Int = defaultPort, user: String? = nil, password: String? = nil, database: Int = 0, prefix: String = defaultPrefix) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.prefix = prefix
    }

    /// Reads a `redis://` URL, or says what is wrong with it.
    public static func parse(_ text: String) -> Result<RedisAddress, ParseError> {
        guard text.hasPrefix("redis://") else { return .failure(ParseError("must start with redis://")) }
        var rest = Substring(text.dropFirst("redis://".count))
        var address = RedisAddress(host: "")

        if let question = rest.firstIndex(of: "?") {
            let query = rest[rest.index(after: question)...]
            rest = rest[..<question]
            for pair in query.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2, parts[0] == "prefix" else { return .failure(ParseError("unknown parameter \(pair.prefix(40))")) }
                let prefix = String(parts[1])
                guard !prefix.isEmpty, prefix.utf8.count <= 64,
                    prefix.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "{") && $0 != UInt8(ascii: "}") })
                else { return .failure(ParseError("prefix must be 1 to 64 printable ASCII characters without braces")) }
                address.prefix = prefix
            }
        }
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let parts = credentials.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { return .failure(ParseError("credentials must be USER:PASSWORD or :PASSWORD")) }
            guard let user = percentDecoded(parts[0]), let password = percentDecoded(parts[1]) else {
                return .failure(ParseError("credentials are not valid percent-encoded UTF-8"))
            }
            address.user = user.isEmpty ? nil : user
            address.password = password.isEmpty ? nil : password
        }
        if let slash = rest.firstIndex(of: "/") {
            let database = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !database.isEmpty {
                guard let number = Int(database), (0...15).contains(number) else {
                    return .failure(ParseError("the database must be a number from 0 to 15"))
                }
                address.database = number
            }
        }
        var host = rest
        if rest.hasPrefix("[") {
            // [IPv6]:PORT
            guard let close = rest.firstIndex(of: "]") else { return .failure(ParseError("an IPv6 host needs its closing ]")) }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let port = Int(after.dropFirst()), (1...65_535).contains(port) else {
                    return .failure(ParseError("the port must be a number from 1 to 65535"))
                }
                address.port = port
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            guard let port = Int(rest[rest.index(after: colon)...]), (1...65_535).contains(port) else {
                return .failure(ParseError("the port must be a number from 1 to 65535"))
            }
            address.port = port
        }
        guard !host.isEmpty, host.utf8.count <= 253, host.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            return .failure(ParseError("the host is missing or not a host name or address"))
        }
        address.host = String(host)
        return .success(address)
    }

    public struct ParseError: Error, Equatable, Sendable, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    /// What a new connection sends first: AUTH when the address has a password, then SELECT when it
    /// names a database other than 0 and `selectingDatabase` (pub/sub ignores databases).
    public func handshakeCommands(selectingDatabase: Bool = true) -> [[String]] {
        var steps: [[String]] = []
        if let password { steps.append(["AUTH"] + (user.map { [$0] } ?? []) + [password]) }
        if selectingDatabase, database != 0 { steps.append(["SELECT", String(database)]) }
        return steps
    }

    /// The address without the password, for logs.
    public var description: String {
        let credentials = password == nil ? (user.map { "\($0)@" } ?? "") : "\(user ?? ""):***@"
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return "redis://\(credentials)\(host):\(port)/\(database)" + (prefix == Self.defaultPrefix ? "" : "?prefix=\(prefix)")
    }

    /// Foundation's percent-decoding; nil for an invalid escape or bytes that are not UTF-8.
    private static func percentDecoded(_ text: Substring) -> String? {
        text.contains("%") ? String(text).removingPercentEncoding : String(text)
    }
}
