import Testing
@testable import ConcordCore

/// What every `PresenceStore` must do, run against each implementation through a factory (the
/// in-memory store now; a Redis store joins the list when it exists). Time is a manual clock.
@Suite("Presence store contract")
struct PresenceStoreContractTests {
    struct Factory: CustomTestStringConvertible, Sendable {
        let name: String
        let make: @Sendable () -> any PresenceStore
        var testDescription: String { name }
    }

    static let factories: [Factory] = [
        Factory(name: "memory") { MemoryPresenceStore() }
    ]

    /// A store with its changes and answers logged in the order they came.
    final class Harness {
        let store: any PresenceStore
        var log: [String] = []

        init(_ store: any PresenceStore) {
            self.store = store
            store.onChange = { [unowned self] change in
                switch change {
                case .join(let c, let m): log.append("join \(c) \(m.user) \(m.connections)")
                case .update(let c, let m): log.append("update \(c) \(m.user) \(m.connections)")
                case .leave(let c, let m): log.append("leave \(c) \(m.user)")
                }
            }
        }

        func done(_ label: String) -> (Result<Void, ProtocolError>) -> Void {
            { [unowned self] result in
                switch result {
                case .success: log.append("\(label) ok")
                case .failure(let error): log.append("\(label) \(error.code.rawValue)")
                }
            }
        }

        func enter(_ session: UInt64, _ user: String, _ channel: String = "p", limit: Int = 10, replacing: @escaping (PresenceHolder) -> Bool = { _ in false })
        {
            store.enter(.session(SessionID(session)), user: user, channel: channel, info: .object([:]), limit: limit, replacing: replacing, done: done("enter"))
        }

        func snapshot(_ channel: String = "p", limit: Int = 10) -> PresenceSnapshot? {
            var result: PresenceSnapshot?
            store.snapshot(of: channel, limit: limit) { result = try? $0.get() }
            return result
        }
    }

    @Test(arguments: factories)
    func aUserJoinsWithItsFirstSessionAndLeavesWithItsLast(_ factory: Factory) {
        let h = Harness(factory.make())
        h.enter(1, "alice")
        h.enter(2, "alice")
        h.store.leave(.session(SessionID(1)), channel: "p", done: h.done("leave"))
        h.store.removeAll(.session(SessionID(2))) { h.log.append("removed \($0)") }
        #expect(h.log == ["enter ok", "join p alice 1", "enter ok", "update p alice 2", "leave ok", "update p alice 1", "removed true", "leave p alice"])
        h.store.removeAll(.session(SessionID(2))) { h.log.append("removed \($0)") }
        #expect(h.log.last == "removed false")
    }

    @Test(arguments: factories)
    func commandsOnAbsentPresenceOrPastTheLimitAreRefusedAndChangeNothing(_ factory: Factory) {
        let h = Harness(factory.make())
        h.store.update(.session(SessionID(1)), channel: "p", info: .null, done: h.done("update"))
        h.store.leave(.session(SessionID(1)), channel: "p", done: h.done("leave"))
        h.enter(1, "alice", "a", limit: 1)
        h.enter(1, "alice", "b", limit: 1)
        h.enter(1, "mallory", "a")
        #expect(h.log == ["update not_present", "leave not_present", "enter ok", "join a alice 1", "enter too_many_subscriptions", "enter forbidden"])
        #expect(h.snapshot("b")?.total == 0)
        #expect(h.store.memberCount == 1)
    }

    @Test(arguments: factories)
    func aSnapshotListsTheLongestPresentFirstUpToTheLimitWithTheTotal(_ factory: Factory) {
        let h = Harness(factory.make())
        for (i, user) in ["carol", "alice", "bob"].enumerated() { h.enter(UInt64(i), user) }
        let snapshot = h.snapshot(limit: 2)
        #expect(snapshot?.members.map(\.user) == ["carol", "alice"])
        #expect(snapshot?.total == 3)
        #expect(h.snapshot("empty") == PresenceSnapshot(members: [], total: 0))
    }

    @Test(arguments: factories)
    func aHolderWithADeadlineLeavesAtTheFirstTickAtOrAfterIt(_ factory: Factory) {
        let h = Harness(factory.make())
        h.enter(1, "alice")
        h.store.enter(
            .backend(channel: "p", user: "dave"), user: "dave", channel: "p", info: .null, limit: 1, replacing: { _ in false }, done: h.done("backend"))
        h.store.expire(.session(SessionID(1)), at: 9_000)
        h.store.expire(.backend(channel: "p", user: "dave"), at: 5_000)
        #expect(h.store.nextDeadline == 5_000)
        h.store.tick(now: 4_999)
        #expect(h.log.filter { $0.hasPrefix("leave") }.isEmpty)
        h.store.tick(now: 5_000)
        #expect(h.log.last == "leave p dave")
        // Given a later deadline before it came due, the session stays until then.
        h.store.expire(.session(SessionID(1)), at: 12_000)
        h.store.tick(now: 9_000)
        #expect(h.log.last == "leave p dave")
        h.store.tick(now: 12_000)
        #expect(h.log.last == "leave p alice")
        #expect(h.store.nextDeadline == nil)
    }

    @Test(arguments: factories)
    func aReconnectTakesOverTheLingeringSessionWithOneUpdate(_ factory: Factory) {
        let h = Harness(factory.make())
        h.enter(1, "alice")
        h.store.expire(.session(SessionID(1)), at: 9_000)  // vanished: lingers until the idle deadline
        h.log.removeAll()
        h.enter(2, "alice", replacing: { $0 == .session(SessionID(1)) })
        #expect(h.log == ["enter ok", "update p alice 1"])
        #expect(h.snapshot()?.members.first?.connections == 1)
        // The old session's deadline removes nothing any more.
        h.store.tick(now: 9_000)
        #expect(h.log.count == 2)
        #expect(h.store.memberCount == 1)
    }
}
