/// Who is on the other end of a connection, and what they may do: from a verified token, from
/// development mode, or nobody in particular (anonymous).
public struct Principal: Sendable, Equatable {
    /// The user id (`sub`): presence member, typist and version-vector actor. Nil when anonymous.
    public var user: String?
    public var name: String?
    /// Default presence info from the token.
    public var info: JSONValue?
    public var grants: Grants
    /// When the token stops being valid; nil for connections without one.
    public var expiresAt: Timestamp?

    public init(user: String?, name: String? = nil, info: JSONValue? = nil, grants: Grants, expiresAt: Timestamp? = nil) {
        self.user = user
        self.name = name
        self.info = info
        self.grants = grants
        self.expiresAt = expiresAt
    }

    public static let anonymous = Principal(user: nil, grants: Grants())

    /// The prefix of personal channels: `notifications/user/{id}` belongs to user `{id}` alone.
    public static let personalChannelPrefix = "notifications/user/"

    /// Checks one action on one channel; `alternatives` is satisfied by any one of its capabilities.
    /// `serverGrants` are the grants every connection has (`--client-publish`, `--public-subscribe`).
    public func authorize(_ alternatives: Capabilities, on channel: String, serverGrants: Grants) throws(ProtocolError) {
        if channel.hasPrefix(Self.personalChannelPrefix) {
            let owner = channel.dropFirst(Self.personalChannelPrefix.count)
            guard let user, owner == user else {
                throw ProtocolError(.forbidden, "\(channel) belongs to another user")
            }
            // Users always read their own notifications; anything else there needs a grant.
            if alternatives.contains(.subscribe) { return }
        }
        guard grants.allowsAny(alternatives, on: channel) || serverGrants.allowsAny(alternatives, on: channel) else {
            throw ProtocolError(.forbidden, "\(user.map { "user \($0)" } ?? "an anonymous connection") may not \(Self.verb(alternatives)) on \(channel)")
        }
    }

    static func verb(_ capabilities: Capabilities) -> String {
        if capabilities.contains(.subscribe) { return "subscribe" }
        if capabilities.contains(.publish) { return "publish" }
        if capabilities.contains(.presence) { return "use presence" }
        if capabilities.contains(.typing) { return "send typing signals" }
        return "commit"
    }
}
