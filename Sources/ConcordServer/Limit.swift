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
