import ConcordCore
import ConcordRedis
import ConcordTestSupport
import ConcordUV
import Foundation
import Logging
import Testing
@testable import ConcordServer

/// Two record services on two Redis nodes sharing one Redis, as two Concord nodes: commits decided
/// on a state another node changed meanwhile lose the compare-and-set and are decided again.
@Suite("Record service on Redis: commits decided again after losing a race", .serialized)
struct RedisRecordServiceTests {
    /// A real redis-server on a free loopback port, killed (SIGKILL) by `stop` or when released.
    typealias Redis = RedisServer

    /// One node: its Redis connection, store and record service, on the shared test loop.
    final class Node {
        let redisNode: RedisNode
        let store: RedisRecordStore
        let service: RecordService
        var remote: [RecordChange] = []
        var subscribed = false

        init(loop: EventLoop, port: Int) throws {
            let now = { Int64(DispatchTime.now().uptimeNanoseconds / 1_000_000) }
            redisNode = RedisNode(loop: loop, address: RedisAddress(host: "127.0.0.1", port: port), timeoutMilliseconds: 1_000, now: now)
            store = RedisRecordStore(node: redisNode)
            service = try RecordService(store: store, loop: loop, logger: Logger(label: "test"), capacity: 100, maxActors: 32)
            service.onRemoteChange = { [unowned self] in remote.append($0) }
            redisNode.listen("test-ready", subscribed: { [unowned self] in subscribed = true }) { _ in }
            redisNode.start()
        }

        var ready: Bool { redisNode.isReady && subscribed }

        func close() {
            service.close()
            redisNode.close()
        }
    }

    let key = RecordKey(channel: "resources/posts", id: "1")

    func commit(
        _ node: Node, _ actor: String, context: [String: UInt64] = [:], field: String, dryRun: Bool = false,
        into results: @escaping (String, CommitResult) -> Void
    ) {
        node.service.commit(
            key, Commit(actor: actor, context: VersionVector(context), fields: [field: .string(actor)]), delete: false, dryRun: dryRun,
            now: Timestamp(milliseconds: 1_000)
        ) { result, _ in results(actor, result) }
    }

    /// Two nodes, ready, with record `key` cached (as never written) on both.
    func twoNodes(_ loop: EventLoop, _ redis: Redis) throws -> (Node, Node) {
        let a = try Node(loop: loop, port: redis.port), b = try Node(loop: loop, port: redis.port)
        #expect(loop.run(until: { a.ready && b.ready }, timeoutMilliseconds: 5_000))
        var cached = 0
        for node in [a, b] { node.service.read(key, failed: {}) { _ in cached += 1 } }
        #expect(loop.run(until: { cached == 2 }, timeoutMilliseconds: 5_000))
        return (a, b)
    }

    /// Carol's commit on `key`, written straight into Redis (no message): the nodes' caches miss it.
    func writeBehind(_ redis: Redis, _ node: Node) throws {
        var behind = RecordState()
        behind.version = VersionVector(["carol": 1])
        behind.fields["title"] = FieldWrite(dot: Dot(actor: "carol", counter: 1), at: Timestamp(milliseconds: 5), value: .string("carol"))
        behind.actors = ["carol"]
        _ = try Redis.send(redis.port, ["SET", node.store.recordKey(key), String(decoding: behind.jsonBytes, as: UTF8.self)])
    }

    func accepted(_ result: CommitResult?) -> Bool {
        if case .outcome(.accepted) = result { return true }
        return false
    }

    @Test func commitsOnTheSameFieldFromTwoNodesEndInOneAcceptanceAndOneConflict() throws {
        let redis = try Redis()
        let loop = try EventLoop()
        let (a, b) = try twoNodes(loop, redis)
        var results: [String: CommitResult] = [:]
        // Both decided on the same cached state in one turn: only one can be the first in Redis.
        commit(a, "alice", field: "title") { results[$0] = $1 }
        commit(b, "bob", field: "title") { results[$0] = $1 }
        #expect(loop.run(until: { results.count == 2 }, timeoutMilliseconds: 5_000))
        let winner = accepted(results["alice"]) ? "alice" : "bob", loser = winner == "alice" ? "bob" : "alice"
        #expect(accepted(results[winner]))
        guard case .outcome(.conflict(let conflict)) = results[loser] else {
            Issue.record("the commit decided on a state another node changed was not decided again: \(String(describing: results[loser]))")
            return
        }
        #expect(conflict.fields.map(\.field) == ["title"] && conflict.fields.map(\.actor) == [winner])
        // Both nodes now hold the winner's state.
        #expect(loop.run(until: { a.service.cache.peek(key)??.version == b.service.cache.peek(key)??.version }, timeoutMilliseconds: 5_000))
        #expect(a.service.cache.peek(key)??.version == VersionVector([winner: 1]))
        a.close()
        b.close()
        loop.close()
    }

    @Test func commitsOnDisjointFieldsFromTwoNodesAreBothKept() throws {
        let redis = try Redis()
        let loop = try EventLoop()
        let (a, b) = try twoNodes(loop, redis)
        var results: [String: CommitResult] = [:]
        commit(a, "alice", field: "title") { results[$0] = $1 }
        commit(b, "bob", field: "body") { results[$0] = $1 }
        #expect(loop.run(until: { results.count == 2 }, timeoutMilliseconds: 5_000))
        #expect(accepted(results["alice"]) && accepted(results["bob"]))
        // The loser merged onto the winner's write rather than overwriting it.
        guard case .bulk(let stored) = try Redis.send(redis.port, ["GET", a.store.recordKey(key)]) else {
            Issue.record("nothing stored")
            return
        }
        let state = try RecordState(json: stored)
        #expect(state.version == VersionVector(["alice": 1, "bob": 1]))
        #expect(state.fields["title"]?.value == .string("alice") && state.fields["body"]?.value == .string("bob"))
        // Each node heard the other's commit (what warns its editors).
        #expect(loop.run(until: { a.remote.count == 1 && b.remote.count == 1 }, timeoutMilliseconds: 5_000))
        #expect(a.remote.first?.accepted.dot.actor == "bob" && b.remote.first?.accepted.dot.actor == "alice")
        a.close()
        b.close()
        loop.close()
    }

    @Test func aCacheBehindRedisIsCorrectedByTheStoreNotTrusted() throws {
        let redis = try Redis()
        let loop = try EventLoop()
        let (a, b) = try twoNodes(loop, redis)
        // Written behind the nodes' backs (no message): both caches still say "never written".
        try writeBehind(redis, a)
        var results: [String: CommitResult] = [:]
        // On a's stale cache this would be accepted; Redis refuses the write and a decides again.
        commit(a, "alice", field: "title") { results[$0] = $1 }
        // b's client has seen carol's write, which b's cache has not: b reads again, then accepts.
        commit(b, "bob", context: ["carol": 1], field: "title") { results[$0] = $1 }
        #expect(loop.run(until: { results.count == 2 }, timeoutMilliseconds: 5_000))
        guard case .outcome(.conflict(let conflict)) = results["alice"] else {
            Issue.record("a commit on a stale cache was not checked against Redis: \(String(describing: results["alice"]))")
            return
        }
        #expect(conflict.fields.map(\.actor) == ["carol"])
        #expect(accepted(results["bob"]))
        a.close()
        b.close()
        loop.close()
    }

    @Test func aDryRunChecksAgainstRedisNotTheCache() throws {
        let redis = try Redis()
        let loop = try EventLoop()
        let (a, b) = try twoNodes(loop, redis)
        // Written behind the nodes' backs (no message): a's cache still says "never written".
        try writeBehind(redis, a)
        var results: [String: CommitResult] = [:]
        // A dry run writes nothing, so nothing would catch a decision on the stale cache.
        commit(a, "alice", field: "title", dryRun: true) { results[$0] = $1 }
        #expect(loop.run(until: { results.count == 1 }, timeoutMilliseconds: 5_000))
        guard case .outcome(.conflict(let conflict)) = results["alice"] else {
            Issue.record("a dry run was decided on a stale cache: \(String(describing: results["alice"]))")
            return
        }
        #expect(conflict.fields.map(\.actor) == ["carol"])
        a.close()
        b.close()
        loop.close()
    }

    @Test func withRedisDownCommitsAndReadsFailAtOnceAndWorkAgainWhenItIsBack() throws {
        var redis = try Redis()
        let port = redis.port
        let loop = try EventLoop()
        let a = try Node(loop: loop, port: port)
        #expect(loop.run(until: { a.ready }, timeoutMilliseconds: 5_000))
        redis.stop()
        #expect(loop.run(until: { !a.redisNode.isReady }, timeoutMilliseconds: 5_000))
        var results: [String: CommitResult] = [:]
        var readFailed = false
        commit(a, "alice", field: "title") { results[$0] = $1 }
        a.service.read(key, failed: { readFailed = true }) { _ in }
        // Answered before the loop turns again: nothing waits for Redis.
        guard case .unavailable = results["alice"] else {
            Issue.record("a commit was not refused at once while Redis was down: \(String(describing: results["alice"]))")
            return
        }
        #expect(readFailed)
        redis = try Redis(port: port)
        #expect(loop.run(until: { a.redisNode.isReady }, timeoutMilliseconds: 10_000))
        results = [:]
        commit(a, "alice", field: "title") { results[$0] = $1 }
        #expect(loop.run(until: { results.count == 1 }, timeoutMilliseconds: 5_000))
        #expect(accepted(results["alice"]))
        a.close()
        loop.close()
    }
}

extension RedisServer {
    /// One command on a blocking connection of its own: for writing behind the nodes' backs.
    static func send(_ port: Int, _ command: [String]) throws -> RedisReply {
        let node = RedisNode(loop: try EventLoop(), address: RedisAddress(host: "127.0.0.1", port: port), now: { 0 })
        return try node.blocking([command])[0]
    }
}
