import ConcordCore

/// The typing store of one node among several sharing a Redis: a typist announced once across the
/// cluster, stopped on an explicit stop (from any node), when every node that had its signals let
/// the TTL lapse or lost the user's last connection, or when its node dies (`NodeLease`).
///
/// The node that receives a typist's signals owns their TTL (a local `TypingRegistry`); Redis
/// keeps, per channel, each typist and the leases holding it (`RedisTypingScripts`), so that
/// `typing(in:)` is right on every node and the first holder starts it and the last one stops it.
/// Every signal is written (a refresh changes nothing in Redis and publishes nothing): after an
/// explicit stop elsewhere, this node's next signal starts the typist again, as on one node.
/// Changes are published on `ty:changes` and reach `onChange` on every node; the hub skips the
/// typist's own connections by user, so its tabs on other nodes are skipped too.
///
/// While Redis cannot be reached, signals are kept here only (and announced when Redis is back,
/// with the rest of what this node holds, under a new lease), and `typing(in:)` answers this
/// node's typists.
public final class RedisTypingStore: TypingStore {
    public var onChange: ((TypingRegistry.Change) -> Void)?
    private let node: RedisNode
    private let now: () -> Int64
    private let lease: NodeLease
    private let snapshots: RedisPresenceSnapshots<[TypingRegistry.Typist]>
    private let changes: String
    private var registry = TypingRegistry()
    /// Channels where this node has typists.
    private var channels: Set<String> = []

    /// `now`, the lease times and `tick` as for `RedisPresenceStore`.
    public init(node: RedisNode, now: @escaping () -> Int64, leaseMilliseconds: Int64 = 5_000, refreshMilliseconds: Int64 = 1_000) {
        self.node = node
        self.now = now
        lease = NodeLease(node: node, name: "ty", now: now, leaseMilliseconds: leaseMilliseconds, refreshMilliseconds: refreshMilliseconds)
        snapshots = RedisPresenceSnapshots(node: node, marks: node.key("ty:marks:\(node.id)"), what: "typing")
        changes = node.key("ty:changes")
        node.listen(changes) { [unowned self] payload in received(payload) }
        lease.reap = { [unowned self] lease, channel, done in
            run(channel, lease: lease, mode: "drop", []) { done() }
        }
        lease.renew = { [unowned self] old, reaped in
            for channel in reaped.union(channels) { announce(channel, takingOver: old) }
        }
    }

    /// Typists whose signals this node receives (in all channels), not the cluster's.
    public var count: Int { registry.count }

    /// The next typist TTL here, or the lease's next refresh if sooner.
    public var nextDeadline: Int64? {
        registry.nextExpiry().map { min($0, lease.nextDue) } ?? lease.nextDue
    }

    public func signal(_ key: TypingRegistry.Key, name: String?, now ticks: Int64, ttl: Int64) {
        _ = registry.signal(key, name: name, now: ticks, ttl: ttl)
        channels.insert(key.channel)
        guard node.isReady else { return }
        lease.hold(key.channel)
        run(key.channel, lease: lease.id, mode: "ops", ["+", Self.field(key), Self.value(key, name: name)])
    }

    public func stop(_ key: TypingRegistry.Key) {
        _ = registry.stop(key)
        // Always sent: the typist's signals may have come to another node.
        if node.isReady { run(key.channel, lease: lease.id, mode: "ops", ["x", Self.field(key)]) }
        released(key.channel)
    }

    public func stopAll(user: String) {
        stopped(registry.stopAll(user: user))
    }

    public func typing(in channel: String, done: @escaping ([TypingRegistry.Typist]) -> Void) {
        snapshots.read(RedisTypingScripts.typing, keys: [node.key(channel, "ty:typists")], arguments: [], now: now(), parse: Self.typists(from:)) {
            [weak self] result in
            switch result {
            case .success(let typists): done(typists)
            case .failure: done(self?.registry.typing(in: channel) ?? [])
            }
        }
    }

    public func tick(now ticks: Int64) {
        lease.tick(ticks)
        snapshots.expire(startedBefore: now() - 10_000)
        stopped(registry.expire(now: ticks))
    }

    // MARK: Redis

    /// This node let these typists go (TTL, last connection): its lease stops holding them.
    private func stopped(_ changes: [TypingRegistry.Change]) {
        for change in changes {
            guard case .stopped(let channel, let typist) = change else { continue }
            let key = TypingRegistry.Key(channel: channel, user: typist.user, scope: typist.scope)
            if node.isReady { run(channel, lease: lease.id, mode: "ops", ["-", Self.field(key)]) }
            released(channel)
        }
    }

    private func released(_ channel: String) {
        guard channels.contains(channel), registry.typing(in: channel).isEmpty else { return }
        channels.remove(channel)
        if node.isReady { lease.release(channel) }
    }

    /// Writes this node's typists in a channel under its current lease, taking over `old`'s.
    private func announce(_ channel: String, takingOver old: String) {
        var arguments: [String] = []
        for typist in registry.typing(in: channel) {
            let key = TypingRegistry.Key(channel: channel, user: typist.user, scope: typist.scope)
            arguments += [Self.field(key), Self.value(key, name: typist.name)]
        }
        if !arguments.isEmpty { lease.hold(channel) }
        run(channel, lease: lease.id, mode: "set", arguments, old: old)
    }

    private func run(_ channel: String, lease: String, mode: String, _ arguments: [String], old: String? = nil, done: @escaping () -> Void = {}) {
        var keys = ["ty:typists", "ty:who", "ty:lease:\(lease)"].map { node.key(channel, $0) }
        if let old { keys.append(node.key(channel, "ty:lease:\(old)")) }
        node.run(RedisTypingScripts.change, keys: keys, arguments: [changes, channel, mode, lease, old ?? ""] + arguments, gated: true) { _ in done() }
    }

    /// A change message: `[channel, [[kind, "[user, scope, name]"], ...]]`.
    private func received(_ payload: ArraySlice<UInt8>) {
        guard case .array(let message)? = JSONParsing.value(from: Array(payload)), message.count == 2,
            case .string(let channel) = message[0], case .array(let list) = message[1]
        else { return }
        for item in list {
            guard case .array(let fields) = item, fields.count == 2, case .string(let kind) = fields[0], case .string(let value) = fields[1],
                let typist = Self.typist(value)
            else { continue }
            onChange?(kind == "started" ? .started(channel: channel, typist) : .stopped(channel: channel, typist))
        }
    }

    private static func typists(from reply: RedisReply) -> [TypingRegistry.Typist]? {
        guard case .array(let items) = reply else { return nil }
        return items.compactMap { $0.text.flatMap(typist) }.sorted { ($0.user, $0.scope ?? "") < ($1.user, $1.scope ?? "") }
    }

    private static func typist(_ value: String) -> TypingRegistry.Typist? {
        guard case .array(let parts)? = JSONParsing.value(from: Array(value.utf8)), parts.count == 3, case .string(let user) = parts[0] else { return nil }
        return TypingRegistry.Typist(user: user, scope: parts[1].stringValue, name: parts[2].stringValue)
    }

    /// A typist's name in Redis: `[user, scope]`.
    private static func field(_ key: TypingRegistry.Key) -> String {
        var writer = JSONWriter()
        writer.value(.array([.string(key.user), key.scope.map { .string($0) } ?? .null]))
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// What watchers learn of a typist: `[user, scope, name]`.
    private static func value(_ key: TypingRegistry.Key, name: String?) -> String {
        var writer = JSONWriter()
        writer.value(.array([.string(key.user), key.scope.map { .string($0) } ?? .null, name.map { .string($0) } ?? .null]))
        return String(decoding: writer.bytes, as: UTF8.self)
    }
}
