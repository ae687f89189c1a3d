import ConcordCore

/// `TypingRegistry`: one typist per entry, a thousand channels, TTL refreshes by repeated signals.
struct TypingExpirySubject: ExpirySubject {
    static let name = "TypingRegistry"
    /// The TTL only shifts `now`; the deadline is what the benchmark chooses.
    private static let ttl: Int64 = 3_000
    private var registry = TypingRegistry()
    private var keys: [TypingRegistry.Key]

    init(capacity: Int) {
        keys = (0..<capacity).map { TypingRegistry.Key(channel: "comments/\($0 % 1000)", user: "u\($0)", scope: nil) }
    }

    mutating func insert(_ entry: Int, deadline: Int64) {
        _ = registry.signal(keys[entry], name: "User \(entry)", now: deadline - Self.ttl, ttl: Self.ttl)
    }

    mutating func tick(now: Int64) -> Int {
        _ = registry.nextExpiry()
        return registry.expire(now: now).count
    }

    mutating func refresh(_ entry: Int, deadline: Int64) {
        _ = registry.signal(keys[entry], name: nil, now: deadline - Self.ttl, ttl: Self.ttl)
    }
}
