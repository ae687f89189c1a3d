import ConcordCore
import ConcordRedis
import ConcordTestSupport
import Foundation
import Testing

/// What every `TypingStore` must do, run against each implementation through a factory that makes
/// a cluster (the memory store is one store given to every node; Redis gives one store per node,
/// on one Redis). Stores run on a loop thread; time is a manual clock.
@Suite("Typing store contract")
struct TypingStoreContractTests {
    typealias Factory = ClusterFactory<any TypingStore>

    static let memory = Factory.memory { MemoryTypingStore() }
    static let redis = Factory.redis { RedisTypingStore(node: $0, now: $1) }

    static let factories = [memory, redis]

    /// One node's store and the changes it heard.
    final class Node: StoreNode<any TypingStore>, @unchecked Sendable {
        static func describe(_ change: TypingRegistry.Change) -> String {
            switch change {
            case .started(let c, let t): return "started \(c) \(t.user) \(t.scope ?? "-")"
            case .stopped(let c, let t): return "stopped \(c) \(t.user) \(t.scope ?? "-")"
            }
        }

        /// Who types is answered after every change published before it reached this node.
        override func barrier() throws {
            _ = try typing("~barrier")
        }

        /// Who types in `channel`: answered after every change published before it reached here.
        func typing(_ channel: String = "c") throws -> [TypingRegistry.Typist] {
            try env.thread.ask { answer in self.store.typing(in: channel, done: answer) }
        }

        func signal(_ key: TypingRegistry.Key, name: String? = nil, at now: Int64, ttl: Int64 = 3_000) throws {
            env.setNow(now)
            try on { $0.signal(key, name: name, now: now, ttl: ttl) }
        }

        func tick(_ now: Int64) throws {
            env.setNow(now)
            try on { $0.tick(now: now) }
        }
    }

    static func cluster(_ factory: Factory, _ env: StoreEnvironment, _ count: Int = 1) throws -> [Node] {
        try Node.cluster(factory, env, count) { store, log in store.onChange = { log(Node.describe($0)) } }
    }

    static func key(_ user: String, _ channel: String = "c", scope: String? = nil) -> TypingRegistry.Key {
        TypingRegistry.Key(channel: channel, user: user, scope: scope)
    }

    @Test(arguments: factories)
    func startedOnceRefreshedSilentlyStoppedOnce(_ factory: Factory) throws {
        let env = try StoreEnvironment()
        defer { env.close() }
        let node = try Self.cluster(factory, env)[0]
        try node.signal(Self.key("bob"), name: "Bob", at: 0)
        #expect(try node.typing() == [TypingRegistry.Typist(user: "bob", scope: nil, name: "Bob")])
        try node.signal(Self.key("bob"), name: "Bob", at: 1_000)
        try node.on { $0.stop(Self.key("bob")) }
        try node.on { $0.stop(Self.key("bob")) }
        #expect(node.lines == ["started c bob -", "stopped c bob -"])
        #expect(try node.read { $0.count } == 0)
        #expect(try node.typing().isEmpty)
    }

    @Test(arguments: factories)
    func aSignalNotRefreshedStopsAtItsTTLAndARefreshMovesIt(_ factory: Factory) throws {
        let env = try StoreEnvironment()
        defer { env.close() }
        let node = try Self.cluster(factory, env)[0]
        try node.signal(Self.key("bob"), at: 0)
        try node.signal(Self.key("bob"), at: 2_000)
        // The store may ask for ticks of its own (a lease), never later than the TTL.
        #expect(try node.read { $0.nextDeadline }.map { $0 <= 5_000 } == true)
        try node.tick(4_999)
        #expect(node.lines == ["started c bob -"])
        try node.tick(5_000)
        #expect(node.lines == ["started c bob -", "stopped c bob -"])
        #expect(try node.typing().isEmpty)
    }

    @Test(arguments: factories)
    func aUsersLastConnectionGoingStopsAllItsSignals(_ factory: Factory) throws {
        let env = try StoreEnvironment()
        defer { env.close() }
        let node = try Self.cluster(factory, env)[0]
        try node.signal(Self.key("bob", "a", scope: "title"), at: 0)
        try node.signal(Self.key("bob", "b"), at: 0)
        try node.signal(Self.key("carol", "a"), at: 0)
        try node.on { $0.stopAll(user: "bob") }
        #expect(node.lines.suffix(2) == ["stopped a bob title", "stopped b bob -"])
        #expect(try node.typing("a").map(\.user) == ["carol"])
    }

    /// A typist with tabs on two nodes is one typist: started once, kept while either node's TTL
    /// runs, stopped by an explicit stop from any node.
    @Test(arguments: factories)
    func aTypistOnTwoNodesIsOneTypist(_ factory: Factory) throws {
        let env = try StoreEnvironment()
        defer { env.close() }
        let nodes = try Self.cluster(factory, env, 2)
        let (a, b) = (nodes[0], nodes[1])
        try a.signal(Self.key("bob"), name: "Bob", at: 0)
        try b.on { _ in }
        try b.signal(Self.key("bob"), name: "Bob", at: 1_000)
        #expect(a.lines == ["started c bob -"])
        #expect(b.lines == ["started c bob -"])
        #expect(try b.typing().map(\.name) == ["Bob"])
        // The first node's TTL lapses; the second's signal keeps bob typing until its own TTL.
        try a.tick(3_500)
        try b.on { _ in }
        #expect(b.lines == ["started c bob -"])
        try b.tick(4_000)
        try a.on { _ in }
        #expect(a.lines == ["started c bob -", "stopped c bob -"])
        #expect(b.lines == ["started c bob -", "stopped c bob -"])

        // An explicit stop on the node that never had the signal stops it everywhere; a new
        // signal starts it again.
        try a.signal(Self.key("carol"), at: 5_000)
        try b.on { $0.stop(Self.key("carol")) }
        try a.on { _ in }
        #expect(a.lines.suffix(2) == ["started c carol -", "stopped c carol -"])
        #expect(try a.typing().isEmpty)
        try a.signal(Self.key("carol"), at: 5_500)
        try b.on { _ in }
        #expect(b.lines.suffix(3) == ["started c carol -", "stopped c carol -", "started c carol -"])
    }
}
