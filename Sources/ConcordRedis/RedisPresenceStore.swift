import ConcordCore

/// The presence store of one node among several sharing a Redis: one member per user across the
/// cluster, its changes reaching `onChange` on every node, a dead node's members gone within
/// seconds (`NodeLease`).
///
/// Each node keeps its own holders (sessions and backend entries it was given) in a local
/// `PresenceRegistry`, which checks the commands (limits, another user, not present) and keeps
/// their deadlines and `replacing`; Redis keeps the union: per channel, each lease's holders, each
/// user's holder count and info, and the arrival order (`RedisPresenceScripts`). A change script
/// publishes what it changed on `pr:changes`, which every node hears; it runs gated, so this
/// node's own change reaches `onChange` after its command's `done`. Snapshots are answered at the
/// point of that stream they reflect (`RedisPresenceSnapshots`).
///
/// While Redis cannot be reached, commands that need it (enter, update, leave, snapshot) fail at
/// once with `unavailable`; clients keep their connections and may retry. Removals (a clean close,
/// a deadline) still happen locally. When Redis is back, the node takes a new lease and
/// re-announces what it holds then, replacing what Redis remembered of it (a changed member shows
/// as one update, a member that went while Redis was away as a leave); watchers do not get the
/// changes other nodes made while Redis was away, only what changes next. A command in flight when
/// Redis went fails with `unavailable`, though this node may keep what it asked for (and announce
/// it on return).
public final class RedisPresenceStore: PresenceStore {
    public var onChange: ((PresenceChange) -> Void)?
    private let node: RedisNode
    private let now: () -> Int64
    private let lease: NodeLease
    private let snapshots: RedisPresenceSnapshots<PresenceSnapshot>
    private let changes: String
    private var registry = PresenceRegistry<PresenceHolder>()
    private var expiries = ExpiryQueue<PresenceHolder>()
    /// This node's holders in each channel and their users (what a re-announce writes).
    private var held: [String: [PresenceHolder: String]] = [:]

    /// `now` is the clock of the node leases, in milliseconds, shared by every node (the wall
    /// clock); node clocks must agree within about a second. A lease lasts `leaseMilliseconds` and
    /// is refreshed every `refreshMilliseconds`, when `tick` is called: a dead node's members
    /// leave within about lease + refresh.
    public init(node: RedisNode, now: @escaping () -> Int64, leaseMilliseconds: Int64 = 5_000, refreshMilliseconds: Int64 = 1_000) {
        self.node = node
        self.now = now
        lease = NodeLease(node: node, name: "pr", now: now, leaseMilliseconds: leaseMilliseconds, refreshMilliseconds: refreshMilliseconds)
        snapshots = RedisPresenceSnapshots(node: node, marks: node.key("pr:marks:\(node.id)"), what: "presence")
        changes = node.key("pr:changes")
        node.listen(changes) { [unowned self] payload in received(payload) }
        lease.reap = { [unowned self] lease, channel, done in
            run(channel, lease: lease, mode: "drop", []) { _ in done() }
        }
        lease.renew = { [unowned self] old, channels in
            for channel in channels.union(held.keys) { announce(channel, takingOver: old) }
        }
    }

    /// Members this node holds presence for (in all channels), not the cluster's: `/metrics` of
    /// each node adds up to more than the cluster when a user has tabs on several nodes.
    public var memberCount: Int { registry.memberCount }

    /// The next holder deadline, or the lease's next refresh if sooner.
    public var nextDeadline: Int64? {
        expiries.nextDeadline().map { min($0, lease.nextDue) } ?? lease.nextDue
    }

    public func enter(
        _ holder: PresenceHolder, user: String, channel: String, info: JSONValue, limit: Int,
        replacing: @escaping (PresenceHolder) -> Bool, done: @escaping (Result<Void, ProtocolError>) -> Void
    ) {
        guard node.isReady else { return done(.failure(snapshots.unavailable)) }
        let hadChannel = held[channel] != nil
        let already = registry.sessions(of: user, in: channel).contains(holder)
        do throws(ProtocolError) {
            _ = try registry.enter(holder, user: user, channel: channel, info: info, limit: limit)
        } catch {
            return done(.failure(error))
        }
        held[channel, default: [:]][holder] = user
        var ops = already ? ["u", user, Self.text(info)] : ["+", Self.field(holder), user, Self.text(info)]
        var replaced = false
        for old in registry.sessions(of: user, in: channel) where old != holder && replacing(old) {
            _ = try? registry.leave(old, channel: channel)
            forget(old, in: channel)
            ops += ["-", Self.field(old)]
            replaced = true
        }
        if replaced { ops += ["!", user] }
        if !hadChannel { lease.hold(channel) }
        run(channel, lease: lease.id, mode: "ops", ops, done: done)
    }

    public func update(_ holder: PresenceHolder, channel: String, info: JSONValue, done: @escaping (Result<Void, ProtocolError>) -> Void) {
        guard node.isReady else { return done(.failure(snapshots.unavailable)) }
        guard let user = held[channel]?[holder] else { return done(.failure(ProtocolError(.notPresent, "not present in \(channel): enter it first"))) }
        _ = try? registry.update(holder, channel: channel, info: info)
        // Sent even when this node's copy of the info is the same: another node may have changed it.
        run(channel, lease: lease.id, mode: "ops", ["u", user, Self.text(info)], done: done)
    }

    public func leave(_ holder: PresenceHolder, channel: String, done: @escaping (Result<Void, ProtocolError>) -> Void) {
        guard node.isReady else { return done(.failure(snapshots.unavailable)) }
        do throws(ProtocolError) {
            _ = try registry.leave(holder, channel: channel)
        } catch {
            return done(.failure(error))
        }
        forget(holder, in: channel)
        remove(holder, from: [channel], first: done)
    }

    public func removeAll(_ holder: PresenceHolder, done: @escaping (Bool) -> Void) {
        let channels = registry.removeAll(holder).map(\.channel)
        for channel in channels { forget(holder, in: channel) }
        guard !channels.isEmpty else { return done(false) }
        guard node.isReady else { return done(true) }
        remove(holder, from: channels) { _ in done(true) }
    }

    public func expire(_ holder: PresenceHolder, at deadline: Int64) {
        guard registry.channels(of: holder) > 0 else { return }
        expiries.schedule(holder, at: deadline)
    }

    public func snapshot(of channel: String, limit: Int, done: @escaping (Result<PresenceSnapshot, ProtocolError>) -> Void) {
        snapshots.read(
            RedisPresenceScripts.snapshot, keys: Array(keys(channel, lease: lease.id).prefix(3)), arguments: [Array(String(limit).utf8)],
            now: now(), parse: Self.snapshot(from:), done: done)
    }

    public func tick(now ticks: Int64) {
        lease.tick(ticks)
        snapshots.expire(startedBefore: now() - 10_000)
        for holder in expiries.popExpired(now: ticks) {
            let channels = registry.removeAll(holder).map(\.channel)
            for channel in channels { forget(holder, in: channel) }
            if node.isReady, !channels.isEmpty { remove(holder, from: channels) { _ in } }
        }
    }

    // MARK: Redis

    private func forget(_ holder: PresenceHolder, in channel: String) {
        held[channel]?[holder] = nil
        if held[channel]?.isEmpty == true { held[channel] = nil }
        if registry.channels(of: holder) == 0 { expiries.cancel(holder) }
    }

    /// Removes a holder from channels in Redis; `first` runs with the first answer.
    private func remove(_ holder: PresenceHolder, from channels: [String], first: @escaping (Result<Void, ProtocolError>) -> Void) {
        var first: ((Result<Void, ProtocolError>) -> Void)? = first
        for channel in channels {
            run(channel, lease: lease.id, mode: "ops", ["-", Self.field(holder)]) { result in
                first?(result)
                first = nil
            }
            if held[channel] == nil { lease.release(channel) }
        }
    }

    /// Writes this node's holders in a channel as they are now, under its current lease, taking
    /// over what the lease `old` had there.
    private func announce(_ channel: String, takingOver old: String) {
        var arguments: [String] = []
        for (holder, user) in held[channel] ?? [:] {
            arguments += [Self.field(holder), user, Self.text(registry.member(user, in: channel)?.info ?? .null)]
        }
        if !arguments.isEmpty { lease.hold(channel) }
        run(channel, lease: lease.id, mode: "set", arguments, extraKeys: [node.key(channel, "pr:lease:\(old)")]) { _ in }
    }

    private func run(
        _ channel: String, lease: String, mode: String, _ arguments: [String], extraKeys: [String] = [],
        done: @escaping (Result<Void, ProtocolError>) -> Void
    ) {
        node.run(
            RedisPresenceScripts.change, keys: keys(channel, lease: lease) + extraKeys, arguments: [changes, channel, mode] + arguments, gated: true
        ) { [weak self] result in
            guard let self else { return }
            switch result {
            case .success(.error(let message)): done(.failure(ProtocolError(.internal, "presence could not be changed: \(message)")))
            case .success: done(.success(()))
            case .failure: done(.failure(snapshots.unavailable))
            }
        }
    }

    private func keys(_ channel: String, lease: String) -> [String] {
        ["pr:info", "pr:conns", "pr:since", "pr:arrivals", "pr:lease:\(lease)"].map { node.key(channel, $0) }
    }

    /// A change message: `[channel, [[kind, user, count, info], ...]]`.
    private func received(_ payload: ArraySlice<UInt8>) {
        guard case .array(let message)? = JSONParsing.value(from: Array(payload)), message.count == 2,
            case .string(let channel) = message[0], case .array(let list) = message[1]
        else { return }
        for item in list {
            guard case .array(let fields) = item, fields.count == 4, case .string(let kind) = fields[0], case .string(let user) = fields[1],
                case .int(let count) = fields[2], case .string(let info) = fields[3]
            else { continue }
            let member = PresenceMember(user: user, info: JSONParsing.value(from: Array(info.utf8)) ?? .null, connections: Int(count))
            switch kind {
            case "join": onChange?(.join(channel: channel, member: member))
            case "leave": onChange?(.leave(channel: channel, member: member))
            default: onChange?(.update(channel: channel, member: member))
            }
        }
    }

    private static func snapshot(from reply: RedisReply) -> PresenceSnapshot? {
        guard case .array(let items) = reply, let total = items.first?.integer else { return nil }
        var members: [PresenceMember] = []
        var index = 1
        while index + 2 < items.count {
            guard let user = items[index].text, let count = items[index + 1].integer, let info = items[index + 2].text else { return nil }
            members.append(PresenceMember(user: user, info: JSONParsing.value(from: Array(info.utf8)) ?? .null, connections: Int(count)))
            index += 3
        }
        return PresenceSnapshot(members: members, total: Int(total))
    }

    /// A holder's name among its lease's holders in a channel.
    private static func field(_ holder: PresenceHolder) -> String {
        switch holder {
        case .session(let id): return "s\(id.number)"
        case .backend(_, let user): return "b\(user)"
        }
    }

    private static func text(_ info: JSONValue) -> String {
        var writer = JSONWriter()
        writer.value(info)
        return String(decoding: writer.bytes, as: UTF8.self)
    }
}
