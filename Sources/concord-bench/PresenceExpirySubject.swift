import ConcordCore

/// `PresenceRegistry` holding backend entries (`POST /v1/presence/{channel}` with a TTL), one user
/// each, ten per channel: the sessions whose TTL `expire(now:)` enforces.
struct PresenceExpirySubject: ExpirySubject {
    /// Mirrors the server's `PresenceSession.backend`, which the benchmark cannot import.
    enum Session: Hashable {
        case backend(channel: String, user: String)
    }

    static let name = "PresenceRegistry"
    private var registry = PresenceRegistry<Session>()
    private var sessions: [(session: Session, channel: String, user: String, info: JSONValue)]

    init(capacity: Int) {
        sessions = (0..<capacity).map { entry in
            let channel = "presence/posts/\(entry / 10)", user = "u\(entry)"
            let info = JSONValue.object(["name": .string("User \(entry)"), "avatar": .string("/a/\(entry).png")])
            return (.backend(channel: channel, user: user), channel, user, info)
        }
    }

    mutating func insert(_ entry: Int, deadline: Int64) {
        let s = sessions[entry]
        _ = try? registry.enter(s.session, user: s.user, channel: s.channel, info: s.info, limit: 1)
        registry.setExpiry(s.session, at: deadline)
    }

    mutating func tick(now: Int64) -> Int {
        _ = registry.nextExpiry()
        return registry.expire(now: now).count
    }

    mutating func refresh(_ entry: Int, deadline: Int64) {
        registry.setExpiry(sessions[entry].session, at: deadline)
    }
}
