import ConcordCore
@testable import ConcordRedis
import ConcordTestSupport
import ConcordUV
import Foundation
import Testing

/// What the Redis record store adds to the contract: nodes sharing it, compare-and-set, Redis
/// restarting under it, and the durability check the server runs at start.
@Suite("Redis record store", .serialized)
struct RedisRecordStoreTests {
    let posts = RecordKey(channel: "resources/posts", id: "1")

    func state(_ actor: String, _ counter: UInt64, field: String, value: JSONValue) -> RecordState {
        var state = RecordState()
        state.version = VersionVector([actor: counter])
        state.fields[field] = FieldWrite(dot: Dot(actor: actor, counter: counter), at: Timestamp(milliseconds: 1_700_000_000_000), value: value)
        state.actors = [actor]
        return state
    }

    @Test func aWriteThroughOneNodeIsReadAndHeardByTheOther() throws {
        let redis = try RedisServer()
        let a = try RedisRecordHarness(port: redis.port), b = try RedisRecordHarness(port: redis.port)
        defer {
            a.stop()
            b.stop()
        }
        // Values with several keys: each node's dictionaries order them differently, and the
        // stored form must still be the same bytes for the other node's compare-and-set.
        let written = state("alice", 1, field: "meta", value: .object(["z": .int(1), "a": .array([.object(["y": .null, "b": .bool(true)])])]))
        #expect(try a.subject().persist([RecordWrite(posts, written, base: nil)]).get() == [.stored])
        #expect(try b.subject().read([posts]).get() == [written])
        try b.waitFor("b to hear a's write") { b.changes.value.count == 1 }
        let change = b.changes.value[0]
        #expect(change.key == posts && change.state == written)
        #expect(change.accepted == CommitOutcome.Accepted(version: written.version, dot: Dot(actor: "alice", counter: 1), fields: ["meta"], deleted: false))
        // b decides on what it read, and its write goes through on a's state.
        var next = written
        next.version = VersionVector(["alice": 1, "bob": 1])
        next.actors = ["alice", "bob"]
        #expect(try b.subject().persist([RecordWrite(posts, next, base: written)]).get() == [.stored])
        try a.waitFor("a to hear b's write") { a.changes.value.count == 1 }
        // A node does not hear its own writes back: it cached them when they were answered.
        #expect(a.changes.value[0].state == next && b.changes.value.count == 1)
    }

    @Test func aNodeThatLostTheRaceGetsTheStateTheWinnerWrote() throws {
        let redis = try RedisServer()
        let a = try RedisRecordHarness(port: redis.port), b = try RedisRecordHarness(port: redis.port)
        defer {
            a.stop()
            b.stop()
        }
        let base = state("server", 1, field: "title", value: .string("first"))
        #expect(try a.subject().persist([RecordWrite(posts, base, base: nil)]).get() == [.stored])
        let alice = state("alice", 1, field: "title", value: .string("alice's")), bob = state("bob", 1, field: "title", value: .string("bob's"))
        // Both decided on `base`; the first to reach Redis wins, the second learns what it holds.
        #expect(try a.subject().persist([RecordWrite(posts, alice, base: base)]).get() == [.stored])
        #expect(try b.subject().persist([RecordWrite(posts, bob, base: base)]).get() == [.lost(current: alice)])
        #expect(try b.subject().read([posts]).get() == [alice])
        #expect(try a.store.ids(in: posts.channel, limit: 10) == ["1"])
    }

    @Test func whileRedisIsDownNothingIsAcknowledgedAndItWorksAgainWhenItIsBack() throws {
        var redis = try RedisServer()
        let port = redis.port
        let a = try RedisRecordHarness(port: port)
        defer { a.stop() }
        redis.stop()
        try a.waitFor("the node to see Redis go") { !a.isReady }
        #expect(try a.thread.ask { answer in answer(a.store.isAvailable) } == false)
        let written = state("alice", 1, field: "title", value: .string("t"))
        guard case .failure(let failure) = try a.subject().persist([RecordWrite(posts, written, base: nil)]) else {
            Issue.record("a write was acknowledged while Redis was down")
            return
        }
        // Not lasting: unlike a broken data directory, Redis coming back makes commits work again.
        #expect(!failure.lasting)
        guard case .failure = try a.subject().read([posts]) else {
            Issue.record("a read was answered while Redis was down")
            return
        }
        let lostBefore = a.lostTrack.value.count
        redis = try RedisServer(port: port)
        try a.waitFor("the node to be back") { a.isReady }
        #expect(try a.subject().persist([RecordWrite(posts, written, base: nil)]).get() == [.stored])
        // The cache is told to forget what it may have missed, once subscribed again.
        try a.waitFor("lost track after the reconnect") { a.lostTrack.value.count > lostBefore }
    }

    @Test func everyAcknowledgedWriteSurvivesRedisKilledWithDurableSettings() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("concord-redis-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let durable = ["--appendonly", "yes", "--appendfsync", "always", "--dir", dir]
        var redis = try RedisServer(arguments: durable)
        let port = redis.port
        let a = try RedisRecordHarness(port: port)
        defer { a.stop() }
        #expect(try RedisDurability.check(a.node) == .durable)
        // Sent in one go; every one the store acknowledged must be there after a SIGKILL.
        let writes = (0..<200).map {
            RecordWrite(RecordKey(channel: "resources/posts", id: String($0)), state("alice", UInt64($0 + 1), field: "n", value: .int(Int64($0))), base: nil)
        }
        let outcomes = try a.subject().persist(writes).get()
        #expect(outcomes == Array(repeating: .stored, count: 200))
        redis.stop()
        redis = try RedisServer(port: port, arguments: durable)
        try a.waitFor("the node to be back") { a.isReady }
        let states = try a.subject().read(writes.map(\.key)).get()
        #expect(states == writes.map(\.state))
        #expect(try a.store.ids(in: "resources/posts", limit: 1_000).count == 200)
    }

    @Test func theDurabilityCheckReportsWhatRedisHas() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("concord-redis-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let weak = try RedisServer(arguments: ["--appendonly", "yes", "--appendfsync", "everysec", "--dir", dir])
        let memoryOnly = try RedisServer()
        let noConfig = try RedisServer(arguments: ["--rename-command", "CONFIG", ""])
        let thread = try LoopThread()
        defer { thread.stop() }
        func check(_ redis: RedisServer) throws -> RedisDurability {
            let node: RedisNode = try thread.ask { answer in
                answer(RedisNode(loop: thread.loop, address: RedisAddress(host: "127.0.0.1", port: redis.port), now: RedisConnectionTests.monotonic))
            }
            return try RedisDurability.check(node)
        }
        #expect(try check(weak) == .weak(appendonly: "yes", appendfsync: "everysec"))
        #expect(try check(memoryOnly) == .weak(appendonly: "no", appendfsync: "everysec"))
        guard case .unknown(let why) = try check(noConfig) else {
            Issue.record("CONFIG is disabled: the check cannot know")
            return
        }
        #expect(why.contains("CONFIG GET appendonly"))
        let unreachable = try RedisServer.freePort()
        let nowhere: RedisNode = try thread.ask { answer in
            answer(RedisNode(loop: thread.loop, address: RedisAddress(host: "127.0.0.1", port: unreachable), now: RedisConnectionTests.monotonic))
        }
        #expect(throws: RedisBlockingFailure.self) { try RedisDurability.check(nowhere) }
    }

    @Test func messagesReadBackAndAnythingElseIsIgnored() throws {
        var state = state("alice", 3, field: "title", value: .string("line\nbreak"))
        state.tombstone = FieldWrite(dot: Dot(actor: "alice", counter: 3), at: Timestamp(milliseconds: 5))
        // An id with a newline and a quote: the header line is JSON, so it cannot end early.
        let message = RecordMessage(node: "n1", key: RecordKey(channel: "a/b", id: "x\n\"y"), state: state)
        #expect(RecordMessage(message.bytes[...]) == message)
        #expect(state.lastAccepted?.deleted == true)
        for junk in ["", "\n", "[\"n\",\"c\"]\n{}", "[\"n\",\"c\",\"i\"]\n{\"bad\":1}", "not json\n{}"] {
            #expect(RecordMessage(Array(junk.utf8)[...]) == nil)
        }
    }
}
