import ConcordCore

/// Every limit the server enforces, by the label it carries in `concord_limit_hits_total{limit=...}`.
enum Limit: String, CaseIterable {
    case messageBytes = "message_bytes"
    case subscriptions
    case subscriptionIDs = "subscription_ids"
    case queueBytes = "queue_bytes"
    case bodyBytes = "body_bytes"
    case headerBytes = "header_bytes"
    case headerCount = "header_count"
    case connections
    case connectionsPerIP = "connections_per_ip"
    case connectionsPerUser = "connections_per_user"
    case handshakeTimeout = "handshake_timeout"
    case idleTimeout = "idle_timeout"
    case publishRate = "publish_rate"
    case typingRate = "typing_rate"
    case commitRate = "commit_rate"
}

extension ConcordServer {
    /// Takes one token from a rate limit's bucket, or refuses with `rate_limited` and counts the hit.
    func takeToken(from bucket: inout TokenBucket?, burst: Int, perSecond: Double, limit: Limit, what: String) throws(ProtocolError) {
        let now = ticks
        var current = bucket ?? TokenBucket(capacity: burst, perSecond: perSecond, now: now)
        defer { bucket = current }
        guard current.take(now: now) else {
            metrics.rateLimited.increment()
            metrics.hit(limit)
            throw ProtocolError(.rateLimited, "\(what) are limited to a burst of \(burst), then \(Self.rate(perSecond)) per second")
        }
    }

    static func rate(_ perSecond: Double) -> String {
        perSecond.rounded() == perSecond ? String(Int(perSecond)) : String(perSecond)
    }
}
