/// A token bucket for rate limits: `capacity` signals at once, refilled at `perSecond`.
public struct TokenBucket: Sendable {
    public let capacity: Double
    public let perSecond: Double
    private var tokens: Double
    private var updatedAt: Int64

    public init(capacity: Int, perSecond: Double, now: Int64) {
        self.capacity = Double(capacity)
        self.perSecond = perSecond
        tokens = Double(capacity)
        updatedAt = now
    }

    /// Takes one token if there is one. A refused signal is dropped, never queued.
    public mutating func take(now: Int64) -> Bool {
        if now > updatedAt {
            tokens = min(capacity, tokens + Double(now - updatedAt) * perSecond / 1000)
            updatedAt = now
        }
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}
