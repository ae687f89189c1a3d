/// A member of a channel's presence: one user, however many connections (tabs) it has there.
public struct PresenceMember: Equatable, Sendable {
    public var user: String
    public var info: JSONValue
    /// How many sessions hold this member: its WebSocket connections plus a backend entry, if any.
    public var connections: Int

    public init(user: String, info: JSONValue, connections: Int) {
        self.user = user
        self.info = info
        self.connections = connections
    }
}

/// What a presence operation changed, to be pushed to the channel's presence subscribers.
public enum PresenceChange: Equatable, Sendable {
    case join(channel: String, member: PresenceMember)
    case update(channel: String, member: PresenceMember)
    case leave(channel: String, member: PresenceMember)

    public var channel: String {
        switch self {
        case .join(let c, _), .update(let c, _), .leave(let c, _): return c
        }
    }
}

/// Who is present where, keyed by user: `join` on a user's first session, `leave` when its last goes.
///
/// A session is whatever holds presence: the server uses its connections and one pseudo-session per
/// backend (HTTP) entry, whose TTL `expire(now:)` enforces with the injected clock.
public struct PresenceRegistry<Session: Hashable> {
    struct Member {
        var info: JSONValue
        var sessions: [Session]
        /// Order of arrival, so snapshots list the longest-present members first.
        var since: UInt64
    }

    private var channels: [String: [String: Member]] = [:]
    /// session -> channel -> user
    private var bySession: [Session: [String: String]] = [:]
    private var arrivals: UInt64 = 0
    private var expiries = ExpiryQueue<Session>()

    public init() {}

    /// Channels where anyone is present.
    public var channelCount: Int { channels.count }
    public var memberCount: Int { channels.values.reduce(0) { $0 + $1.count } }
    public var expiringSessionCount: Int { expiries.count }

    public func channels(of session: Session) -> Int { bySession[session]?.count ?? 0 }

    /// Adds a session's presence. Returns `.join` for a new member and `.update` when a further
    /// session joins an existing one: its connection count (and perhaps its info) changed.
    public mutating func enter(_ session: Session, user: String, channel: String, info: JSONValue, limit: Int) throws(ProtocolError) -> PresenceChange? {
        var entered = bySession[session] ?? [:]
        if let present = entered[channel] {
            guard present == user else { throw ProtocolError(.forbidden, "this connection is present in \(channel) as another user") }
            return try update(session, channel: channel, info: info)
        }
        guard entered.count < limit else {
            throw ProtocolError(.tooManySubscriptions, "present in at most \(limit) channels per connection")
        }
        entered[channel] = user
        bySession[session] = entered
        var members = channels[channel] ?? [:]
        defer { channels[channel] = members }
        if var member = members[user] {
            member.sessions.append(session)
            member.info = info
            members[user] = member
            return .update(channel: channel, member: Self.public(user, member))
        }
        arrivals += 1
        let member = Member(info: info, sessions: [session], since: arrivals)
        members[user] = member
        return .join(channel: channel, member: Self.public(user, member))
    }

    /// Replaces the member's info, for every one of its sessions.
    public mutating func update(_ session: Session, channel: String, info: JSONValue) throws(ProtocolError) -> PresenceChange? {
        guard let user = bySession[session]?[channel], var member = channels[channel]?[user] else {
            throw ProtocolError(.notPresent, "not present in \(channel): enter it first")
        }
        guard member.info != info else { return nil }
        member.info = info
        channels[channel]![user] = member
        return .update(channel: channel, member: Self.public(user, member))
    }

    /// Removes one session's presence: `.leave` when it was the member's last session, otherwise an
    /// `.update` with the smaller connection count (never a leave while a tab remains).
    public mutating func leave(_ session: Session, channel: String) throws(ProtocolError) -> PresenceChange? {
        guard let user = bySession[session]?.removeValue(forKey: channel) else {
            throw ProtocolError(.notPresent, "not present in \(channel)")
        }
        if bySession[session]?.isEmpty == true {
            bySession[session] = nil
            expiries.cancel(session)
        }
        return removeSession(session, user: user, channel: channel)
    }

    /// Removes every presence of a session (its connection closed or its TTL lapsed).
    public mutating func removeAll(_ session: Session) -> [PresenceChange] {
        expiries.cancel(session)
        guard let entered = bySession.removeValue(forKey: session) else { return [] }
        return entered.sorted { $0.key < $1.key }.compactMap { removeSession(session, user: $0.value, channel: $0.key) }
    }

    private mutating func removeSession(_ session: Session, user: String, channel: String) -> PresenceChange? {
        guard var members = channels[channel], var member = members[user] else { return nil }
        member.sessions.removeAll { $0 == session }
        if member.sessions.isEmpty {
            members[user] = nil
            channels[channel] = members.isEmpty ? nil : members
            return .leave(channel: channel, member: Self.public(user, member))
        }
        members[user] = member
        channels[channel] = members
        return .update(channel: channel, member: Self.public(user, member))
    }

    /// Gives a session a deadline (milliseconds): it is removed by `expire(now:)` unless refreshed.
    public mutating func setExpiry(_ session: Session, at deadline: Int64) {
        expiries.schedule(session, at: deadline)
    }

    public mutating func nextExpiry() -> Int64? { expiries.nextDeadline() }

    /// Removes every session whose deadline has passed; the work is proportional to what expires.
    public mutating func expire(now: Int64) -> [PresenceChange] {
        expiries.popExpired(now: now).flatMap { removeAll($0) }
    }

    /// The members of a channel, longest present first, at most `limit` of them, and the total.
    public func members(of channel: String, limit: Int) -> (members: [PresenceMember], total: Int) {
        guard let members = channels[channel] else { return ([], 0) }
        let list = members.sorted { $0.value.since < $1.value.since }.prefix(limit).map { Self.public($0.key, $0.value) }
        return (list, members.count)
    }

    public func memberCount(of channel: String) -> Int { channels[channel]?.count ?? 0 }

    /// The sessions that hold a user's presence in a channel.
    public func sessions(of user: String, in channel: String) -> [Session] {
        channels[channel]?[user]?.sessions ?? []
    }

    /// A member as subscribers see it, or nil when the user is not present there.
    public func member(_ user: String, in channel: String) -> PresenceMember? {
        channels[channel]?[user].map { Self.public(user, $0) }
    }

    private static func `public`(_ user: String, _ member: Member) -> PresenceMember {
        PresenceMember(user: user, info: member.info, connections: member.sessions.count)
    }
}
