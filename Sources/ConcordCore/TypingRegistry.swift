/// Who is typing where: `started` once, silent refreshes, `stopped` on stop, expiry or departure.
public struct TypingRegistry {
    /// One user typing in one channel, optionally in one scope (a field, a thread).
    public struct Key: Hashable, Sendable {
        public var channel: String
        public var user: String
        public var scope: String?

        public init(channel: String, user: String, scope: String?) {
            self.channel = channel
            self.user = user
            self.scope = scope
        }
    }

    public struct Typist: Equatable, Sendable {
        public var user: String
        public var name: String?
        public var scope: String?
    }

    public enum Change: Equatable, Sendable {
        case started(channel: String, Typist)
        case stopped(channel: String, Typist)
    }

    private var names: [Key: String?] = [:]
    private var byChannel: [String: Set<Key>] = [:]
    private var expiries = ExpiryQueue<Key>()

    public init() {}

    public var count: Int { names.count }

    /// A typing signal: `.started` the first time, nothing while it keeps arriving within the TTL.
    public mutating func signal(_ key: Key, name: String?, now: Int64, ttl: Int64) -> Change? {
        expiries.schedule(key, at: now + ttl)
        if names[key] != nil { return nil }
        names[key] = name
        byChannel[key.channel, default: []].insert(key)
        return .started(channel: key.channel, Typist(user: key.user, name: name, scope: key.scope))
    }

    /// An explicit stop: `.stopped` when the user was typing there.
    public mutating func stop(_ key: Key) -> Change? {
        guard let name = names.removeValue(forKey: key) else { return nil }
        expiries.cancel(key)
        byChannel[key.channel]?.remove(key)
        if byChannel[key.channel]?.isEmpty == true { byChannel[key.channel] = nil }
        return .stopped(channel: key.channel, Typist(user: key.user, name: name, scope: key.scope))
    }

    /// Stops every signal of a user in a channel (its last connection there has gone).
    public mutating func stopAll(user: String, channel: String) -> [Change] {
        let keys = (byChannel[channel] ?? []).filter { $0.user == user }.sorted { ($0.scope ?? "") < ($1.scope ?? "") }
        return keys.compactMap { stop($0) }
    }

    /// Stops every signal of a user everywhere (its last connection has gone).
    public mutating func stopAll(user: String) -> [Change] {
        let keys = names.keys.filter { $0.user == user }.sorted { ($0.channel, $0.scope ?? "") < ($1.channel, $1.scope ?? "") }
        return keys.compactMap { stop($0) }
    }

    public mutating func nextExpiry() -> Int64? { expiries.nextDeadline() }

    /// `.stopped` for every signal whose TTL lapsed; the work is proportional to what expires.
    public mutating func expire(now: Int64) -> [Change] {
        expiries.popExpired(now: now).compactMap { stop($0) }
    }

    /// Who is typing in a channel now, for a new subscriber.
    public func typing(in channel: String) -> [Typist] {
        (byChannel[channel] ?? []).map { Typist(user: $0.user, name: names[$0] ?? nil, scope: $0.scope) }
            .sorted { ($0.user, $0.scope ?? "") < ($1.user, $1.scope ?? "") }
    }
}
