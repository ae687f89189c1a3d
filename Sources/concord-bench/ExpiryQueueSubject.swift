import ConcordCore

/// The bare `ExpiryQueue`, keyed like the server's heartbeat queue: by object identity.
struct ExpiryQueueSubject: ExpirySubject {
    /// Stands in for a `Connection`: a class hashed by its identity.
    final class Key: Hashable {
        static func == (a: Key, b: Key) -> Bool { a === b }
        func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
    }

    static let name = "ExpiryQueue"
    private var queue = ExpiryQueue<Key>()
    private var keys: [Key]

    init(capacity: Int) {
        keys = (0..<capacity).map { _ in Key() }
    }

    mutating func insert(_ entry: Int, deadline: Int64) {
        queue.schedule(keys[entry], at: deadline)
    }

    mutating func tick(now: Int64) -> Int {
        _ = queue.nextDeadline()
        return queue.popExpired(now: now).count
    }

    mutating func refresh(_ entry: Int, deadline: Int64) {
        queue.schedule(keys[entry], at: deadline)
    }
}
