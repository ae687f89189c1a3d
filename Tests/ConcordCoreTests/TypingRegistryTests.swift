import Testing
@testable import ConcordCore

@Suite("Typing with a TTL and a manual clock")
struct TypingRegistryTests {
    let key = TypingRegistry.Key(channel: "c", user: "alice", scope: "comment")
    var alice: TypingRegistry.Typist { .init(user: "alice", name: "Alice", scope: "comment") }

    @Test func startsOnceRefreshesSilentlyAndExpires() {
        var typing = TypingRegistry()
        #expect(typing.signal(key, name: "Alice", now: 0, ttl: 3000) == .started(channel: "c", alice))
        #expect(typing.signal(key, name: "Alice", now: 1000, ttl: 3000) == nil)
        #expect(typing.signal(key, name: "Alice", now: 2000, ttl: 3000) == nil)
        #expect(typing.expire(now: 4999) == [])
        #expect(typing.nextExpiry() == 5000)
        #expect(typing.expire(now: 5000) == [.stopped(channel: "c", alice)])
        #expect(typing.count == 0)
    }

    @Test func explicitStopAndStopWhenNotTyping() {
        var typing = TypingRegistry()
        _ = typing.signal(key, name: "Alice", now: 0, ttl: 3000)
        #expect(typing.stop(key) == .stopped(channel: "c", alice))
        #expect(typing.stop(key) == nil)
        #expect(typing.expire(now: 10_000) == [])
    }

    @Test func newSubscribersLearnWhoIsTyping() {
        var typing = TypingRegistry()
        _ = typing.signal(key, name: "Alice", now: 0, ttl: 3000)
        _ = typing.signal(.init(channel: "c", user: "bob", scope: nil), name: nil, now: 0, ttl: 3000)
        _ = typing.signal(.init(channel: "other", user: "carol", scope: nil), name: nil, now: 0, ttl: 3000)
        #expect(typing.typing(in: "c").map(\.user) == ["alice", "bob"])
        #expect(typing.stopAll(user: "alice").count == 1)
        #expect(typing.typing(in: "c").map(\.user) == ["bob"])
    }

    @Test func rateLimitDropsBeyondTheBucket() {
        var bucket = TokenBucket(capacity: 3, perSecond: 2, now: 0)
        #expect((0..<5).map { _ in bucket.take(now: 0) } == [true, true, true, false, false])
        #expect(bucket.take(now: 499) == false)
        #expect(bucket.take(now: 500) == true)
        #expect(bucket.take(now: 10_000) == true)
    }
}
