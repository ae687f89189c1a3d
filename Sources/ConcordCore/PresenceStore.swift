/// What holds a presence: a client session, or a backend's entry made over HTTP (one per user and
/// channel, living by its TTL).
public enum PresenceHolder: Hashable, Sendable {
    case session(SessionID)
    case backend(channel: String, user: String)
}

/// A channel's members as a snapshot gives them: the longest present first, capped, and the total.
public struct PresenceSnapshot: Equatable, Sendable {
    public var members: [PresenceMember]
    public var total: Int

    public init(members: [PresenceMember], total: Int) {
        self.members = members
        self.total = total
    }
}

/// Who is present where, keyed by user: a member joins with the user's first holder in a channel
/// and leaves with the last one.
///
/// The contract every implementation keeps (and `PresenceStoreContractTests` checks, for each one):
/// - Every call happens on the server's loop thread, and every callback runs there too.
/// - Each command calls `done` once: success, or the protocol error to answer (`not_present`,
///   `forbidden` for a session present as another user, `too_many_subscriptions` past `limit`,
///   `unavailable` when a shared backend cannot be reached).
/// - Every change (join, update, leave), whoever caused it and on whichever node, reaches `onChange`
///   once, after the `done` of the command that caused it, in the order the changes happened.
/// - A snapshot corresponds to one point of the changes this node's `onChange` delivers: it is
///   answered after every change it reflects has been delivered and before any it does not, so a
///   watcher registered in its `done` gets the snapshot and then exactly the later changes.
/// - A holder given a deadline (`expire(_:at:)`) is removed, with its leaves, by the first `tick`
///   at or after it, unless it leaves or is given another deadline first. `nextDeadline` is never
///   later than the next one, for the server's timer (a store may ask for ticks of its own, such
///   as a lease refresh).
/// - `enter` takes over the holders of the same user and channel that `replacing` selects (the
///   lingering presence of a client that reconnected): the member stays, with one update.
public protocol PresenceStore: AnyObject {
    var onChange: ((PresenceChange) -> Void)? { get set }
    func enter(
        _ holder: PresenceHolder, user: String, channel: String, info: JSONValue, limit: Int,
        replacing: @escaping (PresenceHolder) -> Bool, done: @escaping (Result<Void, ProtocolError>) -> Void)
    func update(_ holder: PresenceHolder, channel: String, info: JSONValue, done: @escaping (Result<Void, ProtocolError>) -> Void)
    func leave(_ holder: PresenceHolder, channel: String, done: @escaping (Result<Void, ProtocolError>) -> Void)
    /// Removes every presence of the holder now (a clean close, a backend's DELETE); `done` says
    /// whether it had any.
    func removeAll(_ holder: PresenceHolder, done: @escaping (Bool) -> Void)
    /// Keeps the holder's presence until `deadline` (the loop's milliseconds), then removes it.
    func expire(_ holder: PresenceHolder, at deadline: Int64)
    func snapshot(of channel: String, limit: Int, done: @escaping (Result<PresenceSnapshot, ProtocolError>) -> Void)
    /// Members across every channel that this node holds presence for, for `/metrics` (for one
    /// node, every member).
    var memberCount: Int { get }
    var nextDeadline: Int64? { get }
    func tick(now: Int64)
}

/// The presence store of a single node: `PresenceRegistry` in memory, changes reported by a plain
/// call. Every callback runs before the method that caused it returns.
public final class MemoryPresenceStore: PresenceStore {
    public var onChange: ((PresenceChange) -> Void)?
    private var registry = PresenceRegistry<PresenceHolder>()

    public init() {}

    public var memberCount: Int { registry.memberCount }
    public var nextDeadline: Int64? { registry.nextExpiry() }

    public func enter(
        _ holder: PresenceHolder, user: String, channel: String, info: JSONValue, limit: Int,
        replacing: @escaping (PresenceHolder) -> Bool, done: @escaping (Result<Void, ProtocolError>) -> Void
    ) {
        let change: PresenceChange?
        do throws(ProtocolError) {
            change = try registry.enter(holder, user: user, channel: channel, info: info, limit: limit)
        } catch {
            return done(.failure(error))
        }
        var replaced = false
        for old in registry.sessions(of: user, in: channel) where old != holder && replacing(old) {
            _ = try? registry.leave(old, channel: channel)
            replaced = true
        }
        done(.success(()))
        if replaced, let member = registry.member(user, in: channel) {
            onChange?(.update(channel: channel, member: member))
        } else if let change {
            onChange?(change)
        }
    }

    public func update(_ holder: PresenceHolder, channel: String, info: JSONValue, done: @escaping (Result<Void, ProtocolError>) -> Void) {
        report(done) { () throws(ProtocolError) in try registry.update(holder, channel: channel, info: info).map { [$0] } ?? [] }
    }

    public func leave(_ holder: PresenceHolder, channel: String, done: @escaping (Result<Void, ProtocolError>) -> Void) {
        report(done) { () throws(ProtocolError) in try registry.leave(holder, channel: channel).map { [$0] } ?? [] }
    }

    public func removeAll(_ holder: PresenceHolder, done: @escaping (Bool) -> Void) {
        let had = registry.channels(of: holder) > 0
        let changes = registry.removeAll(holder)
        done(had)
        changes.forEach { onChange?($0) }
    }

    public func expire(_ holder: PresenceHolder, at deadline: Int64) {
        registry.setExpiry(holder, at: deadline)
    }

    public func snapshot(of channel: String, limit: Int, done: @escaping (Result<PresenceSnapshot, ProtocolError>) -> Void) {
        let (members, total) = registry.members(of: channel, limit: limit)
        done(.success(PresenceSnapshot(members: members, total: total)))
    }

    public func tick(now: Int64) {
        registry.expire(now: now).forEach { onChange?($0) }
    }

    /// Runs a command, answers it, then reports what it changed.
    private func report(_ done: (Result<Void, ProtocolError>) -> Void, _ command: () throws(ProtocolError) -> [PresenceChange]) {
        let changes: [PresenceChange]
        do throws(ProtocolError) {
            changes = try command()
        } catch {
            return done(.failure(error))
        }
        done(.success(()))
        changes.forEach { onChange?($0) }
    }
}
