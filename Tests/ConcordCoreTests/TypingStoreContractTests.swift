import Testing
@testable import ConcordCore

/// What every `TypingStore` must do, run against each implementation through a factory (the
/// in-memory store now; a Redis store joins the list when it exists). Time is a manual clock.
@Suite("Typing store contract")
struct TypingStoreContractTests {
    struct Factory: CustomTestStringConvertible, Sendable {
        let name: String
        let make: @Sendable () -> any TypingStore
        var testDescription: String { name }
    }

    static let factories: [Factory] = [
        Factory(name: "memory") { MemoryTypingStore() }
    ]

    func logging(_ store: any TypingStore) -> () -> [String] {
        final class Log { var lines: [String] = [] }
        let log = Log()
        store.onChange = { change in
            switch change {
            case .started(let c, let t): log.lines.append("started \(c) \(t.user) \(t.scope ?? "-")")
            case .stopped(let c, let t): log.lines.append("stopped \(c) \(t.user) \(t.scope ?? "-")")
            }
        }
        return { log.lines }
    }

    func key(_ user: String, _ channel: String = "c", scope: String? = nil) -> TypingRegistry.Key {
        TypingRegistry.Key(channel: channel, user: user, scope: scope)
    }

    @Test(arguments: factories)
    func startedOnceRefreshedSilentlyStoppedOnce(_ factory: Factory) {
        let store = factory.make()
        let log = logging(store)
        store.signal(key("bob"), name: "Bob", now: 0, ttl: 3_000)
        store.signal(key("bob"), name: "Bob", now: 1_000, ttl: 3_000)
        store.stop(key("bob"))
        store.stop(key("bob"))
        #expect(log() == ["started c bob -", "stopped c bob -"])
        #expect(store.count == 0)
    }

    @Test(arguments: factories)
    func aSignalNotRefreshedStopsAtItsTTLAndARefreshMovesIt(_ factory: Factory) {
        let store = factory.make()
        let log = logging(store)
        store.signal(key("bob"), name: nil, now: 0, ttl: 3_000)
        store.signal(key("bob"), name: nil, now: 2_000, ttl: 3_000)
        #expect(store.nextDeadline == 5_000)
        store.tick(now: 4_999)
        #expect(log() == ["started c bob -"])
        store.tick(now: 5_000)
        #expect(log() == ["started c bob -", "stopped c bob -"])
        #expect(store.nextDeadline == nil)
    }

    @Test(arguments: factories)
    func aUsersLastConnectionGoingStopsAllItsSignals(_ factory: Factory) {
        let store = factory.make()
        let log = logging(store)
        store.signal(key("bob", "a", scope: "title"), name: nil, now: 0, ttl: 3_000)
        store.signal(key("bob", "b"), name: nil, now: 0, ttl: 3_000)
        store.signal(key("carol", "a"), name: nil, now: 0, ttl: 3_000)
        store.stopAll(user: "bob")
        #expect(log().suffix(2) == ["stopped a bob title", "stopped b bob -"])
        var typists: [TypingRegistry.Typist] = []
        store.typing(in: "a") { typists = $0 }
        #expect(typists.map(\.user) == ["carol"])
    }
}
