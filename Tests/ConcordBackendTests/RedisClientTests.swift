import ConcordRedis
import ConcordTestSupport
import ConcordUV
import Foundation
import Testing

/// `RedisClient` keeps Redis in reach: handshake, a loss, backoff, and coming back subscribed.
@Suite("Redis client", .serialized)
struct RedisClientTests {
    /// A client started on `thread`, recording its states and messages.
    final class Watched: @unchecked Sendable {
        var client: RedisClient!
        let states = Mutexed<[RedisClient.State]>([])
        let messages = Mutexed<[String]>([])

        init(_ thread: LoopThread, _ address: RedisAddress) throws {
            try thread.sync { [self] in
                client = RedisClient(
                    loop: thread.loop, address: address, timeoutMilliseconds: 500, backoff: 20...200, now: RedisConnectionTests.monotonic)
                client.onState = { [states] in states.append($0) }
                client.onMessage = { [messages] channel, payload in messages.append("\(channel):\(String(decoding: payload, as: UTF8.self))") }
                client.start()
            }
        }

        func waitFor(_ what: String, _ condition: () -> Bool) throws {
            let deadline = Date().addingTimeInterval(10)
            while !condition() {
                guard Date() < deadline else { throw RedisServer.Failure("timed out waiting for \(what)") }
                usleep(5_000)
            }
        }

        var last: RedisClient.State? { states.value.last }

        func send(_ thread: LoopThread, _ arguments: [String]) throws -> Result<RedisReply, RedisConnection.Failure> {
            try thread.ask { answer in self.client.send(arguments, done: answer) }
        }
    }

    @Test func comesBackAfterRedisRestartsAndIsSubscribedAgain() throws {
        var redis = try RedisServer()
        let thread = try LoopThread()
        defer { thread.stop() }
        let watched = try Watched(thread, RedisAddress(host: "127.0.0.1", port: redis.port))
        try watched.waitFor("ready") { watched.last == .ready }
        try thread.sync { watched.client.subscribe("news") }
        // Subscribed once a publish reaches one subscriber.
        try watched.waitFor("the subscription") { (try? watched.send(thread, ["PUBLISH", "news", "first"]).get()) == .integer(1) }
        try watched.waitFor("the first message") { watched.messages.value == ["news:first"] }

        let port = redis.port
        redis.stop()
        try watched.waitFor("down") { if case .down = watched.last { return true } else { return false } }
        // While down, commands fail at once rather than wait for Redis to return.
        guard case .failure(let failure) = try watched.send(thread, ["PING"]) else { Issue.record("a command went through while down"); return }
        #expect(failure.reason.contains("is unavailable"))

        redis = try RedisServer(port: port)
        try watched.waitFor("ready again") { watched.last == .ready }
        try watched.waitFor("subscribed again") { (try? watched.send(thread, ["PUBLISH", "news", "second"]).get()) == .integer(1) }
        try watched.waitFor("the second message") { watched.messages.value.last == "news:second" }
        // ready, down (with each failed attempt's reason while Redis was away), ready: never
        // `connecting` again, so that what is said while down is why.
        let states = watched.states.value
        #expect(states.first == .ready && states.last == .ready)
        let between = states.dropFirst().dropLast()
        #expect(!between.isEmpty && between.allSatisfy { if case .down = $0 { return true } else { return false } }, "\(states)")
        try thread.sync { watched.client.close() }
    }

    @Test func authenticatesAndSelectsTheDatabaseOrSaysWhyNot() throws {
        let redis = try RedisServer(arguments: ["--requirepass", "s3cret"])
        let thread = try LoopThread()
        defer { thread.stop() }
        let good = try Watched(thread, try RedisAddress.parse("redis://:s3cret@127.0.0.1:\(redis.port)/3").get())
        try good.waitFor("ready") { good.last == .ready }
        #expect(try good.send(thread, ["SET", "k", "in db 3"]).get() == .status("OK"))
        #expect(try good.send(thread, ["CLIENT", "INFO"]).get().text?.contains("db=3") == true)

        let wrong = try Watched(thread, try RedisAddress.parse("redis://:wrong@127.0.0.1:\(redis.port)").get())
        try wrong.waitFor("down") { if case .down = wrong.last { return true } else { return false } }
        guard case .down(let why)? = wrong.last else { return }
        #expect(why.contains("AUTH was refused"), "\(why)")
        try thread.sync {
            good.client.close()
            wrong.client.close()
        }
    }
}
