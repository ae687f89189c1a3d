import ConcordRedis
import Testing

/// `--redis` URLs: what each part means, what the defaults are, and what is refused.
@Suite("Redis address")
struct RedisAddressTests {
    @Test(arguments: [
        ("redis://127.0.0.1", RedisAddress(host: "127.0.0.1")),
        ("redis://redis.internal:6380/2", RedisAddress(host: "redis.internal", port: 6380, database: 2)),
        ("redis://:s3cret@redis:7000", RedisAddress(host: "redis", port: 7000, password: "s3cret")),
        ("redis://app:p%40ss%3Aword@redis/", RedisAddress(host: "redis", user: "app", password: "p@ss:word")),
        ("redis://[::1]:6390/1?prefix=staging", RedisAddress(host: "::1", port: 6390, database: 1, prefix: "staging")),
        ("redis://u:@h", RedisAddress(host: "h", user: "u")),
    ])
    func readsEveryPart(_ text: String, _ expected: RedisAddress) throws {
        #expect(try RedisAddress.parse(text).get() == expected)
    }

    @Test(arguments: [
        ("http://redis", "must start with redis://"),
        ("redis://", "the host is missing"),
        ("redis://h:0", "the port must be a number from 1 to 65535"),
        ("redis://h:65536", "the port must be a number from 1 to 65535"),
        ("redis://h:x", "the port must be a number from 1 to 65535"),
        ("redis://h/16", "the database must be a number from 0 to 15"),
        ("redis://h/x", "the database must be a number from 0 to 15"),
        ("redis://pass@h", "credentials must be USER:PASSWORD or :PASSWORD"),
        ("redis://:%zz@h", "credentials are not valid percent-encoded UTF-8"),
        ("redis://[::1:6379", "an IPv6 host needs its closing ]"),
        ("redis://h?db=2", "unknown parameter db=2"),
        ("redis://h?prefix=a{b}", "prefix must be 1 to 64 printable ASCII characters without braces"),
        ("redis://h?prefix=", "prefix must be 1 to 64 printable ASCII characters without braces"),
        ("redis://h o", "the host is missing or not a host name or address"),
    ])
    func refusesWhatIsNotAnAddress(_ text: String, _ message: String) {
        guard case .failure(let error) = RedisAddress.parse(text) else {
            Issue.record("\(text) was accepted")
            return
        }
        #expect(error.description.hasPrefix(message), "\(text): \(error)")
    }

    @Test func logsNeverShowThePassword() throws {
        let address = try RedisAddress.parse("redis://app:s3cret@redis:6380/3?prefix=prod").get()
        #expect(address.description == "redis://app:***@redis:6380/3?prefix=prod")
        #expect(!address.description.contains("s3cret"))
        #expect(try RedisAddress.parse("redis://[::1]").get().description == "redis://[::1]:6379/0")
    }
}
