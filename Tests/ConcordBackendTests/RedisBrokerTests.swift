import ConcordCore
import ConcordRedis
import ConcordTestSupport
import Foundation
import Testing

/// What only a broker of several nodes can meet: a node whose pub/sub reader fell behind (Redis
/// drops it past `client-output-buffer-limit pubsub`), and a Redis that came back empty. Each node
/// catches up from the history in order, or reports the stream so its subscribers recover; never a
/// silent gap.
@Suite("Redis broker across nodes", .serialized)
struct RedisBrokerTests {
    /// A node on a loop thread of its own, with a broker and what it delivered and reset.
    final class Node: @unchecked Sendable {
        let thread: LoopThread
        let node: RedisNode
        let broker: RedisBroker
        let delivered = Mutexed<[UInt64]>([])
        let resets = Mutexed<[String]>([])
        /// Times the node lost Redis (its pub/sub connection dropped, or Redis gone).
        let losses = Mutexed<[String]>([])

        init(port: Int, prefix: String, history: HistoryLimits) throws {
            let thread = try LoopThread()
            self.thread = thread
            let address = RedisAddress(host: "127.0.0.1", port: port, prefix: prefix)
            (node, broker) = try thread.ask { answer in
                let node = RedisNode(loop: thread.loop, address: address, timeoutMilliseconds: 2_000, now: RedisConnectionTests.monotonic)
                let broker = RedisBroker(node: node, policy: HistoryPolicy(fallback: history), now: { Timestamp(milliseconds: 1_800_000_000_000) })
                node.start()
                answer((node, broker))
            }
            try thread.sync { [self] in
                broker.onEvent = { [delivered] in delivered.append($0.position.offset) }
                broker.onStreamReset = { [resets] in resets.append($0) }
                node.observeState { [losses] state in
                    if case .down(let why) = state { losses.append(why) }
                }
            }
            try waitUntil("the node is ready") { (try? self.thread.ask { answer in answer(self.node.isReady) }) == true }
        }

        func subscribe(_ channel: String) throws -> BrokerSubscription? {
            try thread.ask { answer in self.broker.subscribe(channel, since: nil) { answer(try? $0.get()) } }
        }

        /// Publishes `count` events, pipelined, and waits for every answer.
        func publish(_ channel: String, count: Int, padding: Int = 200) throws -> [StreamPosition?] {
            let events = try (1...count).map { n in
                try LiveEvent(
                    json: [
                        "channel": .string(channel), "type": .string("updated"),
                        "payload": .object(["n": .int(Int64(n)), "pad": .string(String(repeating: "x", count: padding))]),
                    ], now: Timestamp(milliseconds: 1_800_000_000_000))
            }
            return try thread.ask(timeout: 30) { answer in
                var positions: [StreamPosition?] = []
                for event in events {
                    self.broker.publish(event, at: Timestamp(milliseconds: 1_800_000_000_000)) { result in
                        positions.append(try? result.get())
                        if positions.count == events.count { answer(positions) }
                    }
                }
            }
        }

        /// Holds the node's loop (its sockets are not read) until `release` is signalled; returns
        /// once the loop is held.
        func stall(until release: DispatchSemaphore) {
            let held = DispatchSemaphore(value: 0)
            DispatchQueue.global().async {
                try? self.thread.sync {
                    held.signal()
                    release.wait()
                }
            }
            held.wait()
        }

        func close() {
            try? thread.sync { self.node.close() }
            thread.stop()
        }
    }

    static func waitUntil(_ what: String, timeout: Double = 20, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !condition() {
            guard Date() < deadline else { throw RedisServer.Failure("timed out waiting for \(what)") }
            usleep(2_000)
        }
    }

    func waitUntil(_ what: String, timeout: Double = 20, _ condition: () -> Bool) throws { try Self.waitUntil(what, timeout: timeout, condition) }

    /// A Redis that drops a subscriber at 64 KiB of unread messages, a publishing node, and a
    /// reading node subscribed to `feed` whose loop is held while the publisher sends 2,000 events
    /// of about 4 KiB (more than loopback's socket buffers take): Redis closes its pub/sub
    /// connection. `body` gets the positions the publisher got.
    static func readerFallsBehind(
        history: HistoryLimits, _ body: (_ publisher: Node, _ reader: Node, _ positions: [StreamPosition?]) throws -> Void
    ) throws {
        let redis = try RedisServer(arguments: ["--client-output-buffer-limit", "pubsub 64kb 64kb 0"])
        defer { redis.stop() }
        let prefix = SharedRedis.freshPrefix()
        let publisher = try Node(port: redis.port, prefix: prefix, history: history)
        let reader = try Node(port: redis.port, prefix: prefix, history: history)
        defer {
            publisher.close()
            reader.close()
        }
        #expect(try reader.subscribe("feed")?.position.offset == 0)
        // Held until everything is published, however slow the machine: Redis must meet its limit.
        let release = DispatchSemaphore(value: 0)
        reader.stall(until: release)
        let positions = try publisher.publish("feed", count: 2_000, padding: 4_000)
        release.signal()
        try body(publisher, reader, positions)
        #expect(!reader.losses.value.isEmpty, "Redis dropped the reader (else this test proves nothing)")
    }

    @Test func aReaderDroppedByRedisCatchesUpFromTheHistoryInOrder() throws {
        try Self.readerFallsBehind(history: HistoryLimits(maxEvents: 5_000, maxAgeMilliseconds: 600_000)) { _, reader, positions in
            #expect(positions.compactMap { $0?.offset } == Array(1...2_000))
            try waitUntil("every event on the reader") { reader.delivered.value.count >= 2_000 }
            #expect(reader.delivered.value == Array(1...2_000), "in order, each once")
            #expect(reader.resets.value.isEmpty, "the history had every missed event")
        }
    }

    @Test func aReaderThatMissedMoreThanIsKeptAsksItsSubscribersToRecover() throws {
        try Self.readerFallsBehind(history: HistoryLimits(maxEvents: 100, maxAgeMilliseconds: 600_000)) { publisher, reader, _ in
            try waitUntil("the reset") { reader.resets.value == ["feed"] }
            // Live events go on from the stream's position after the reset, none twice.
            _ = try publisher.publish("feed", count: 1, padding: 0)
            try waitUntil("the next live event") { reader.delivered.value.last == 2_001 }
            let delivered = reader.delivered.value
            #expect(delivered == delivered.sorted() && Set(delivered).count == delivered.count)
            #expect(try reader.subscribe("feed")?.position.offset == 2_001)
        }
    }

    @Test func aRedisThatCameBackEmptyStartsNewEpochsAndSubscribersAreAskedToRecover() throws {
        var redis = try RedisServer()
        let port = redis.port
        let prefix = SharedRedis.freshPrefix()
        let publisher = try Node(port: port, prefix: prefix, history: .standard)
        let reader = try Node(port: port, prefix: prefix, history: .standard)
        defer {
            publisher.close()
            reader.close()
        }
        let before = try #require(try reader.subscribe("feed")?.position)
        _ = try publisher.publish("feed", count: 3)
        try waitUntil("three events") { reader.delivered.value == [1, 2, 3] }
        redis.stop()
        redis = try RedisServer(port: port)
        try waitUntil("both nodes back") {
            (try? publisher.thread.ask { answer in answer(publisher.node.isReady) }) == true
                && (try? reader.thread.ask { answer in answer(reader.node.isReady) }) == true
        }
        try waitUntil("the reset") { reader.resets.value == ["feed"] }
        let after = try #require(try reader.subscribe("feed")?.position)
        #expect(after.epoch != before.epoch, "a Redis without the stream starts it again under a new epoch")
        let next = try publisher.publish("feed", count: 1)
        #expect(next.first??.epoch == after.epoch && next.first??.offset == after.offset + 1)
        try waitUntil("the next live event") { reader.delivered.value.count == 4 }
        withExtendedLifetime(redis) {}
    }
}
