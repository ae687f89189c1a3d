import Crypto

/// A Lua script Redis runs atomically, sent by its SHA-1 (`EVALSHA`) and by its text only when
/// Redis does not have it (`NOSCRIPT`, after a restart or a `SCRIPT FLUSH`).
public struct RedisScript: Sendable {
    public let source: String
    public let sha1: String

    public init(_ source: String) {
        self.source = source
        sha1 = Insecure.SHA1.hash(data: Array(source.utf8)).map { byte in
            let hex = Array("0123456789abcdef".utf8)
            return String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 15)]], as: UTF8.self)
        }.joined()
    }
}
