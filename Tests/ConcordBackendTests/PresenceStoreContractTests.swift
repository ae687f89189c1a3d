import ConcordCore
import ConcordRedis
import ConcordTestSupport
import Foundation
import Testing

/// What every `PresenceStore` must do, run against each implementation through a factory: the
/// in-memory store, and Redis stores on a shared redis-server. A factory makes a cluster: the
/// memory store is one store given to every "node"; Redis gives one store per node, all on one
/// Redis. Stores run on a loop thread; time is a manual clock.
@Suite("Presence store contract")
struct PresenceStoreContractTests {
    typealias Factory = ClusterFactory<any PresenceStore>

    static let memory = Factory.memory { MemoryPresenceStore() }
    static let redis = Factory.redis { RedisPresenceStore(node: $0, now: $1) }

    static let factories = [memory, redis]

    /// One node's store, its changes and answers logged in the order they came.
    final class Node: StoreNode<any PresenceStore>, @unchecked Sendable {
        static func describe(_ change: PresenceChange) -> String {
            switch change {
            case .join(let c, let m): return "join \(c) \(m.user) \(m.connections)"
            case .update(let c, let m): return "update \(c) \(m.user) \(m.connections)"
            case .leave(let c, let m): return "leave \(c) \(m.user)"
            }
        }

        func done(_ label: String) -> (Result<Void, ProtocolError>) -> Void {
            { [log] result in
                switch result {
                case .success: log.append("\(label) ok")
                case .failure(let error): log.append("\(label) \(error.code.rawValue)")
                }
            }
        }

        /// A snapshot is answered after every change published before it reached this node.
        override func barrier() throws {
            let _: Bool = try env.thread.ask { answer in self.store.snapshot(of: "~barrier", limit: 0) { _ in answer(true) } }
        }

        func enter(
            _ session: UInt64, _ user: String, _ channel: String = "p", info: JSONValue = .object([:]), limit: Int = 10,
            replacing: @escaping @Sendable (PresenceHolder) -> Bool = { _ in false }
        ) throws {
            try on {
                $0.enter(.session(SessionID(session)), user: user, channel: channel, info: info, limit: limit, replacing: replacing, done: self.done("enter"))
            }
        }

        func snapshot(_ channel: String = "p", limit: Int = 10) throws -> PresenceSnapshot? {
            try env.thread.ask { answer in self.store.snapshot(of: channel, limit: limit) { answer(try? $0.get()) } }
        }

        func tick(_ now: Int64) throws {
            env.setNow(now)
            try on { $0.tick(now: now) }
        }
    }

    /// `count` nodes of one cluster, each logging every change it hears.
    static func cluster(_ factory: Factory, _ env: StoreEnvironment, _ count: Int = 1) throws -> [Node] {
        try Node.cluster(factory, env, count) { store, log in store.onChange = { log(Node.describe($0)) } }
    }

    @Test(arguments: factories)
    func aUserJoinsWithItsFirstSessionAndLeavesWithItsLast(_ factory: Factory) throws {
        let env = try StoreEnvironment()
        defer { env.close() }
        let h = try Self.cluster(factory, env)[0]
        try h.enter(1, "alice")
        try h.enter(2, "alice")
        try h.on { $0.leave(.session(SessionID(1)), channel: "p", done: h.done("leave")) }
        try h.on { $0.removeAll(.session(SessionID(2))) { h.log.append("removed \($0)") } }
        #expect(h.lines == ["enter ok", "join p alice 1", "enter ok", "update p alice 2", "leave ok", "update p alice 1", "removed true", "leave p alice"])
        try h.on { $0.removeAll(.session(SessionID(2))) { h.log.append("removed \($0)") } }
        #expect(h.lines.last == "removed false")
    }

    @Test(arguments: factories)
    func commandsOnAbsentPresenceOrPastTheLimitAreRefusedAndChangeNothing(_ factory: Factory) throws {
        let env = try StoreEnvironment()
        defer { env.close() }
        let h = try Self.cluster(factory, env)[0]
        try h.on { $0.update(.session(SessionID(1)), channel: "p", info: .null, done: h.done("update")) }
        try h.on { $0.leave(.session(SessionID(1)), channel: "p", done: h.done("leave")) }
        try h.enter(1, "alice", "a", limit: 1)
        try h.enter(1, "alice", "b", limit: 1)
        try h.enter(1, "mallory", "a")
        #expect(h.lines == ["update not_present", "leave not_present", "enter ok", "join a alice 1", "enter too_many_subscriptions", "enter forbidden"])
        #expect(try h.snapshot("b")?.total == 0)
        #expect(try h.read { $0.memberCount } == 1)
    }

    @Test(arguments: factories)
    func aSnapshotListsTheLongestPresentFirstUpToTheLimitWithTheTotal(_ factory: Factory) throws {
        let env = try StoreEnvironment()
        defer { env.close() }
        let h = try Self.cluster(factory, env)[0]
        for (i, user) in ["carol", "alice", "bob"].enumerated() { try h.enter(UInt64(i), user, info: .object(["name": .string(user)])) }
        let snapshot = try h.snapshot(limit: 2)
        #expect(snapshot?.members.map(\.user) == ["carol", "alice"])
        #expect(snapshot?.members.first?.info == .object(["name": .string("carol")]))
        #expect(snapshot?.total == 3)
        #expect(try h.snapshot(limit: 0) == PresenceSnapshot(members: [], total: 3))
        #expect(try h.snapshot("empty") == PresenceSnapshot(members: [], total: 0))
    }

    @Test(arguments: factories)
    func aHolderWithADeadlineLeavesAtTheFirstTickAtOrAfterIt(_ factory: Factory) throws {
        let env = try StoreEnvironment()
        defer { env.close() }
        let h = try Self.cluster(factory, env)[0]
        try h.enter(1, "alice")
        try h.on {
            $0.enter(
                .backend(channel: "p", user: "dave"), user: "dave", channel: "p", info: .null, limit: 1, replacing: { _ in false }, done: h.done("backend"))
        }
        try h.on {
            $0.expire(.session(SessionID(1)), at: 9_000)
            $0.expire(.backend(channel: "p", user: "dave"), at: 5_000)
        }
        // The store may ask for ticks of its own (a lease), never later than the first deadline.
        #expect(try h.read { $0.nextDeadline }.map { $0 <= 5_000 } == true)
        try h.tick(4_999)
        #expect(h.lines.filter { $0.hasPrefix("leave") }.isEmpty)
        try h.tick(5_000)
        #expect(h.lines.last == "leave p dave")
        // Given a later deadline before it came due, the session stays until then.
        try h.on { $0.expire(.session(SessionID(1)), at: 12_000) }
        try h.tick(9_000)
        #expect(h.lines.last == "leave p dave")
        try h.tick(12_000)
        #expect(h.lines.last == "leave p alice")
        #expect(try h.snapshot()?.total == 0)
    }

    @Test(arguments: factories)
    func aReconnectTakesOverTheLingeringSessionWithOneUpdate(_ factory: Factory) throws {
        let env = try StoreEnvironment()
        defer { env.close() }
        let h = try Self.cluster(factory, env)[0]
        try h.enter(1, "alice")
        try h.on { $0.expire(.session(SessionID(1)), at: 9_000) }  // vanished: lingers until the idle deadline
        let before = h.lines.count
        try h.enter(2, "alice", replacing: { $0 == .session(SessionID(1)) })
        #expect(h.lines.dropFirst(before) == ["enter ok", "update p alice 1"])
        #expect(try h.snapshot()?.members.first?.connections == 1)
        // The old session's deadline removes nothing any more.
        try h.tick(9_000)
        #expect(h.lines.count == before + 2)
        #expect(try h.read { $0.memberCount } == 1)
    }
}
