/// One write: the actor who made it and that actor's counter at the time.
public struct Dot: Hashable, Sendable, Comparable {
    public var actor: String
    public var counter: UInt64

    public init(actor: String, counter: UInt64) {
        self.actor = actor
        self.counter = counter
    }

    public static func < (a: Dot, b: Dot) -> Bool { (a.actor, a.counter) < (b.actor, b.counter) }
}

/// A version vector: for each actor, how many of its writes a version (or a client's context) has seen.
public struct VersionVector: Hashable, Sendable {
    public private(set) var counters: [String: UInt64]

    public init(_ counters: [String: UInt64] = [:]) {
        self.counters = counters.filter { $0.value > 0 }
    }

    public subscript(actor: String) -> UInt64 { counters[actor] ?? 0 }

    public var isEmpty: Bool { counters.isEmpty }

    /// True when this has seen everything `other` has: every actor's counter at least as high.
    public func descends(_ other: VersionVector) -> Bool {
        other.counters.allSatisfy { self[$0.key] >= $0.value }
    }

    /// True when this has seen the write `dot`.
    public func covers(_ dot: Dot) -> Bool {
        self[dot.actor] >= dot.counter
    }

    /// Neither descends the other: each has seen writes the other has not.
    public func isConcurrent(with other: VersionVector) -> Bool {
        !descends(other) && !other.descends(self)
    }

    /// The least vector that descends both: each actor's higher counter.
    public func merged(with other: VersionVector) -> VersionVector {
        var result = counters
        for (actor, counter) in other.counters where counter > result[actor] ?? 0 { result[actor] = counter }
        return VersionVector(result)
    }

    /// Records one more write by `actor` and returns its dot.
    public mutating func increment(_ actor: String) -> Dot {
        let next = self[actor] + 1
        counters[actor] = next
        return Dot(actor: actor, counter: next)
    }

    mutating func remove(_ actor: String) {
        counters[actor] = nil
    }

    mutating func set(_ actor: String, _ counter: UInt64) {
        counters[actor] = counter > 0 ? counter : nil
    }
}

extension VersionVector: CustomStringConvertible {
    public var description: String {
        "{" + counters.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ",") + "}"
    }
}
