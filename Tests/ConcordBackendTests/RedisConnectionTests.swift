import ConcordRedis
import ConcordTestSupport
import ConcordUV
import Foundation
import Testing

/// `RedisConnection` against a real redis-server, on a loop of its own.
@Suite("Redis connection", .serialized)
struct RedisConnectionTests {
    static func monotonic() -> Int64 { Int64(DispatchTime.now().uptimeNanoseconds / 1_000_000) }

    /// Connects on `thread`'s loop; fails the test when it cannot.
    func connect(_ thread: LoopThread, _ redis: RedisServer, mode: RedisConnection.Mode = .commands, timeout: Int64 = 2_000) throws
        -> RedisConnection
    {
        let result: (RedisConnection?, RedisConnection.Failure?) = try thread.ask { answer in
            var connection: RedisConnection?
            connection = RedisConnection(
                loop: thread.loop, host: "127.0.0.1", port: redis.port, mode: mode, timeoutMilliseconds: timeout,
                now: Self.monotonic
            ) { result in
                switch result {
                case .success: answer((connection, nil))
                case .failure(let failure): answer((nil, failure))
                }
            }
        }
        guard let connection = result.0 else { throw RedisServer.Failure("connect failed: \(result.1?.reason ?? "?")") }
        return connection
    }

    func send(_ thread: LoopThread, _ connection: RedisConnection, _ arguments: [String]) throws -> Result<RedisReply, RedisConnection.Failure> {
        try thread.ask { answer in connection.send(arguments, done: answer) }
    }

    @Test func repliesOfEveryKindInTheOrderCommandsWereSent() throws {
        let redis = try RedisServer()
        let thread = try LoopThread()
        defer { thread.stop() }
        let connection = try connect(thread, redis)
        #expect(try send(thread, connection, ["SET", "k", "v\u{0}binary"]).get() == .status("OK"))
        #expect(try send(thread, connection, ["GET", "k"]).get() == .bulk(Array("v\u{0}binary".utf8)))
        #expect(try send(thread, connection, ["GET", "missing"]).get() == .null)
        #expect(try send(thread, connection, ["INCRBY", "n", "41"]).get() == .integer(41))
        #expect(try send(thread, connection, ["MGET", "k", "missing"]).get() == .array([.bulk(Array("v\u{0}binary".utf8)), .null]))
        guard case .error(let message) = try send(thread, connection, ["NOSUCHCOMMAND"]).get() else {
            Issue.record("an unknown command is an error reply")
            return
        }
        #expect(message.hasPrefix("ERR"))
        // 1,000 commands pipelined in one loop turn come back in order.
        let replies: [Int64] = try thread.ask { answer in
            var replies: [Int64] = []
            for _ in 0..<1_000 {
                connection.send(["INCR", "counter"]) { result in
                    replies.append((try? result.get())?.integer ?? -1)
                    if replies.count == 1_000 { answer(replies) }
                }
            }
        }
        #expect(replies == Array(1...1_000))
        try thread.sync { connection.close() }
    }

    @Test func aLostRedisFailsEveryPendingCommandAndSaysSoOnce() throws {
        let redis = try RedisServer()
        let thread = try LoopThread()
        defer { thread.stop() }
        let connection = try connect(thread, redis)
        let lost = Mutexed<[String]>([])
        try thread.sync { connection.onDisconnect = { lost.append($0.reason) } }
        // A command Redis will not answer before it dies.
        let pending: Result<RedisReply, RedisConnection.Failure> = try thread.ask { answer in
            connection.send(["BLPOP", "nothing", "0"], done: answer)
            DispatchQueue.global().asyncAfter(deadline: .now() + 0.1) { redis.stop() }
        }
        guard case .failure = pending else { Issue.record("a command pending when Redis died succeeded"); return }
        // hiredis fails the pending commands first, then reports the disconnect, in the same turn.
        try thread.sync {}
        #expect(lost.value.count == 1)
        try thread.sync { #expect(!connection.isConnected) }
        // A connection that is gone refuses commands at once.
        guard case .failure = try send(thread, connection, ["PING"]) else { Issue.record("a dead connection took a command"); return }
    }

    @Test func aCommandRedisDoesNotAnswerInTimeFailsAndDropsTheConnection() throws {
        let redis = try RedisServer()
        let thread = try LoopThread()
        defer { thread.stop() }
        let connection = try connect(thread, redis, timeout: 200)
        redis.pause(true)
        defer { redis.pause(false) }
        let started = Date()
        let result = try send(thread, connection, ["PING"])
        let waited = Date().timeIntervalSince(started)
        guard case .failure(let failure) = result else { Issue.record("a paused Redis answered"); return }
        #expect(failure.reason.contains("did not answer within 200 ms"))
        // The timeout counts whole milliseconds of the loop's clock: up to a millisecond early by
        // this wall clock, plus the timer's own rounding.
        #expect(waited >= 0.19 && waited < 2, "failed after \(waited) s")
        try thread.sync { #expect(!connection.isConnected) }
    }

    @Test func connectingToNothingFailsWithAClearReason() throws {
        let port = try RedisServer.freePort()
        let thread = try LoopThread()
        defer { thread.stop() }
        let failure: RedisConnection.Failure? = try thread.ask { answer in
            var connection: RedisConnection?
            connection = RedisConnection(loop: thread.loop, host: "127.0.0.1", port: port, timeoutMilliseconds: 300, now: Self.monotonic) { result in
                if case .failure(let failure) = result { answer(failure) } else { answer(nil) }
                _ = connection
            }
        }
        #expect(failure?.reason.contains("cannot connect to Redis") == true, "\(failure?.reason ?? "connected")")
    }

    @Test func pubSubMessagesReachTheSubscriber() throws {
        let redis = try RedisServer()
        let thread = try LoopThread()
        defer { thread.stop() }
        let subscriber = try connect(thread, redis, mode: .pubSub)
        let publisher = try connect(thread, redis)
        let received: [String] = try thread.ask { answer in
            var messages: [String] = []
            subscriber.onMessage = { channel, payload in
                messages.append("\(channel):\(String(decoding: payload, as: UTF8.self))")
                if messages.count == 3 { answer(messages) }
            }
            subscriber.subscribe(["a", "b"])
            // PUBSUB NUMSUB tells when both subscriptions are in place; publish then.
            func publishWhenSubscribed() {
                publisher.send(["PUBSUB", "NUMSUB", "a", "b"]) { result in
                    guard case .array(let counts)? = try? result.get(), counts.count == 4, counts[1] == .integer(1), counts[3] == .integer(1)
                    else { return publishWhenSubscribed() }
                    for (channel, payload) in [("a", "1"), ("b", "2"), ("c", "ignored"), ("a", "3")] {
                        publisher.send(["PUBLISH", channel, payload]) { _ in }
                    }
                }
            }
            publishWhenSubscribed()
        }
        #expect(received == ["a:1", "b:2", "a:3"])
        guard case .failure = try send(thread, subscriber, ["PING"]) else { Issue.record("a pub/sub connection took a command"); return }
        try thread.sync {
            subscriber.close()
            publisher.close()
        }
    }
}
