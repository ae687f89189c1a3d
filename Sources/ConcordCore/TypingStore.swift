/// Who is typing where: a typist is announced once, refreshed silently while signals keep coming
/// within the TTL, and stopped on an explicit stop, when the TTL lapses, or when the user's last
/// connection goes.
///
/// The contract every implementation keeps (and `TypingStoreContractTests` checks, for each one):
/// - Every call happens on the server's loop thread, and every callback runs there too.
/// - Every change (started, stopped), whoever caused it and on whichever node, reaches `onChange`
///   once, in the order the changes happened; a refresh reports nothing.
/// - A signal not refreshed stops at the first `tick` at or after its TTL; `nextDeadline` is never
///   later than the next one, for the server's timer (a store may ask for ticks of its own). Times
///   are the loop's milliseconds.
/// - `typing(in:)` answers at one point of the changes this node's `onChange` delivers, so a
///   watcher registered in its `done` gets the list and then exactly the later changes.
public protocol TypingStore: AnyObject {
    var onChange: ((TypingRegistry.Change) -> Void)? { get set }
    func signal(_ key: TypingRegistry.Key, name: String?, now: Int64, ttl: Int64)
    func stop(_ key: TypingRegistry.Key)
    /// Stops every signal of the user (its last connection has gone).
    func stopAll(user: String)
    func typing(in channel: String, done: @escaping ([TypingRegistry.Typist]) -> Void)
    /// Typists whose signals this node receives, across every channel, for `/metrics`.
    var count: Int { get }
    var nextDeadline: Int64? { get }
    func tick(now: Int64)
}

/// The typing store of a single node: `TypingRegistry` in memory, changes reported by a plain
/// call. Every callback runs before the method that caused it returns.
public final class MemoryTypingStore: TypingStore {
    public var onChange: ((TypingRegistry.Change) -> Void)?
    private var registry = TypingRegistry()

    public init() {}

    public var count: Int { registry.count }
    public var nextDeadline: Int64? { registry.nextExpiry() }

    public func signal(_ key: TypingRegistry.Key, name: String?, now: Int64, ttl: Int64) {
        if let change = registry.signal(key, name: name, now: now, ttl: ttl) { onChange?(change) }
    }

    public func stop(_ key: TypingRegistry.Key) {
        if let change = registry.stop(key) { onChange?(change) }
    }

    public func stopAll(user: String) {
        registry.stopAll(user: user).forEach { onChange?($0) }
    }

    public func typing(in channel: String, done: @escaping ([TypingRegistry.Typist]) -> Void) {
        done(registry.typing(in: channel))
    }

    public func tick(now: Int64) {
        registry.expire(now: now).forEach { onChange?($0) }
    }
}

extension TypingRegistry.Typist {
    /// A typist as another node reported it (a store in Redis rebuilds it from its message).
    public init(user: String, scope: String?, name: String?) {
        self.user = user
        self.name = name
        self.scope = scope
    }
}
