import ConcordCore
import ConcordRedis
import ConcordTestSupport
import Foundation
import Testing

/// Presence across nodes: what the contract suite's cluster factories give two nodes, and what
/// only Redis nodes can show (a node that stops refreshing its lease, Redis restarting).
@Suite("Presence across nodes")
struct RedisPresenceClusterTests {
    typealias Presence = PresenceStoreContractTests
    typealias Typing = TypingStoreContractTests

    @Test(arguments: Presence.factories)
    func tabsOnTwoNodesAreOneMemberJoiningOnceAndLeavingWithTheLast(_ factory: Presence.Factory) throws {
        let env = try StoreEnvironment()
        defer { env.close() }
        let nodes = try Presence.cluster(factory, env, 2)
        let (a, b) = (nodes[0], nodes[1])
        try a.enter(1, "alice")
        try b.enter(2, "alice")
        try a.on { $0.leave(.session(SessionID(1)), channel: "p", done: a.done("leave")) }
        try b.on { $0.removeAll(.session(SessionID(2))) { b.log.append("removed \($0)") } }
        try a.barrier()
        let changes = ["join p alice 1", "update p alice 2", "update p alice 1", "leave p alice"]
        #expect(a.lines.filter { !$0.hasSuffix("ok") } == changes)
        #expect(b.lines.filter { !$0.hasPrefix("enter") && !$0.hasPrefix("removed") } == changes)
        #expect(try a.snapshot()?.total == 0)
    }

    @Test(arguments: Presence.factories)
    func anUpdateOnOneNodeReachesTheOtherAndItsSnapshots(_ factory: Presence.Factory) throws {
        let env = try StoreEnvironment()
        defer { env.close() }
        let nodes = try Presence.cluster(factory, env, 2)
        let (a, b) = (nodes[0], nodes[1])
        try a.enter(1, "alice", info: .object(["field": .string("title")]))
        try b.enter(2, "alice", info: .object(["field": .string("title")]))
        try a.on { $0.update(.session(SessionID(1)), channel: "p", info: .object(["field": .string("body")]), done: a.done("update")) }
        try b.barrier()
        #expect(b.lines.last == "update p alice 2")
        #expect(try b.snapshot()?.members == [PresenceMember(user: "alice", info: .object(["field": .string("body")]), connections: 2)])
        // The same info again changes nothing anywhere.
        let heard = b.lines.count
        try a.on { $0.update(.session(SessionID(1)), channel: "p", info: .object(["field": .string("body")]), done: a.done("update")) }
        try b.barrier()
        #expect(b.lines.count == heard)
    }

    /// A watcher on one node takes a snapshot while another node keeps changing the channel: the
    /// snapshot and the changes heard after it make the channel's members, none missed or twice.
    @Test(arguments: Presence.factories)
    func aSnapshotThenTheLaterChangesMakeTheMembers(_ factory: Presence.Factory) throws {
        let env = try StoreEnvironment()
        defer { env.close() }
        let nodes = try Presence.cluster(factory, env, 2)
        let (a, b) = (nodes[0], nodes[1])
        let snapshots = Mutexed<[(at: Int, users: [String])]>([])
        for round in 0..<20 {
            try env.thread.sync {
                for i in 0..<4 {
                    let user = "u\(round)-\(i)"
                    a.store.enter(.session(SessionID(UInt64(round * 10 + i))), user: user, channel: "p", info: .null, limit: 10, replacing: { _ in false }) {
                        _ in
                    }
                    if i == 2 {
                        b.store.snapshot(of: "p", limit: 1_000) { result in
                            snapshots.append((b.log.value.count, (try? result.get())?.members.map(\.user) ?? ["failed"]))
                        }
                    }
                    if round > 0 { a.store.leave(.session(SessionID(UInt64((round - 1) * 10 + i))), channel: "p") { _ in } }
                }
            }
        }
        try a.barrier()
        try b.barrier()
        let final = try b.snapshot(limit: 1_000)?.members.map(\.user)
        #expect(snapshots.value.count == 20)
        for snapshot in snapshots.value {
            var members = Set(snapshot.users)
            for line in b.lines.dropFirst(snapshot.at) {
                let parts = line.split(separator: " ")
                let user = String(parts[2])
                switch parts[0] {
                case "join": #expect(members.insert(user).inserted, "\(user) joined twice")
                case "leave": #expect(members.remove(user) != nil, "\(user) left without being there")
                default: #expect(members.contains(user), "\(user) updated without being there")
                }
            }
            #expect(members == Set(final ?? []))
        }
    }

    @Test func aNodeThatStopsRefreshingItsLeaseHasItsMembersAndTypistsLeaveElsewhere() throws {
        let env = try StoreEnvironment()
        defer { env.close() }
        let presence = try Presence.cluster(Presence.redis, env, 2)
        let typing = try Typing.cluster(Typing.redis, env, 2)
        let (dead, survivor) = (presence[0], presence[1])
        try dead.enter(1, "alice")
        try survivor.enter(2, "bob")
        try typing[0].signal(Typing.key("alice"), at: 0, ttl: 60_000)
        try typing[1].on { _ in }
        #expect(typing[1].lines == ["started c alice -"])
        // The dead node's clock stops (it never ticks again); the survivor's moves on. Within
        // the lease (5 s) nothing goes.
        for now in stride(from: Int64(1_000), through: 4_000, by: 1_000) {
            try survivor.tick(now)
            try typing[1].tick(now)
        }
        try survivor.barrier()
        #expect(try survivor.snapshot()?.total == 2)
        try survivor.tick(6_000)
        try typing[1].tick(6_000)
        try env.waitFor("alice to leave on the survivor") { survivor.lines.contains("leave p alice") }
        try env.waitFor("alice to stop typing on the survivor") { typing[1].lines.contains("stopped c alice -") }
        #expect(try survivor.snapshot()?.members.map(\.user) == ["bob"])
        #expect(try typing[1].typing().isEmpty)
        #expect(!survivor.lines.contains("leave p bob"))
    }

    @Test func whenRedisRestartsEachNodeAnnouncesItsPresenceAndTypistsAgain() throws {
        var redis = try RedisServer()
        let env = try StoreEnvironment()
        defer { env.close() }
        let nodes = try [env.node(port: redis.port), env.node(port: redis.port)]
        let stores: [RedisPresenceStore] = try env.thread.ask { answer in answer(nodes.map { RedisPresenceStore(node: $0, now: env.clock) }) }
        let typists: [RedisTypingStore] = try env.thread.ask { answer in answer(nodes.map { RedisTypingStore(node: $0, now: env.clock) }) }
        try env.start(nodes)
        let (a, b) = (Presence.Node(env, stores[0]), Presence.Node(env, stores[1]))
        let typingB = Typing.Node(env, typists[1])
        try env.thread.sync {
            for node in [a, b] { node.store.onChange = { node.log.append(Presence.Node.describe($0)) } }
        }
        try a.enter(1, "alice")
        try Typing.Node(env, typists[0]).signal(Typing.key("alice"), at: 0, ttl: 60_000)
        #expect(try b.snapshot()?.total == 1)

        let port = redis.port
        redis.stop()
        try env.waitFor("Redis down") { (try? env.thread.ask { answer in answer(nodes.contains { !$0.isReady }) }) == true }
        // While Redis is away, commands that need it fail at once; presence held here stays.
        try a.enter(2, "carol")
        #expect(a.lines.last == "enter unavailable")
        #expect(try a.read { $0.memberCount } == 1)

        redis = try RedisServer(port: port)
        try env.waitFor("Redis back") { (try? env.thread.ask { answer in answer(nodes.allSatisfy(\.isReady)) }) == true }
        try env.waitFor("alice announced again") { (try? b.snapshot()?.members.map(\.user)) == ["alice"] }
        try env.waitFor("alice typing again") { (try? typingB.typing().map(\.user)) == ["alice"] }
        let heard = b.lines.count
        try a.on { $0.leave(.session(SessionID(1)), channel: "p", done: a.done("leave")) }
        try b.barrier()
        #expect(b.lines.dropFirst(heard) == ["leave p alice"])
        _ = redis
    }
}
