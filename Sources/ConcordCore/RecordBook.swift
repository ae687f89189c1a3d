/// Records kept in one dictionary, decided by `RecordRules`: the whole store in memory, for tests
/// and the core benchmark. The server keeps a bounded `RecordCache` in front of its store instead.
public struct RecordBook: Sendable {
    public private(set) var records: [RecordKey: RecordState] = [:]
    public let rules: RecordRules

    public init(maxActors: Int = 32) {
        rules = RecordRules(maxActors: maxActors)
    }

    public var count: Int { records.count }

    public func state(of key: RecordKey) -> RecordState? { records[key] }

    /// Changes the one record in place: no copy of the book or of other records.
    public mutating func commit(_ key: RecordKey, _ commit: Commit, now: Timestamp) throws(ProtocolError) -> CommitOutcome {
        try rules.commit(&records[key], commit, now: now)
    }

    public mutating func delete(_ key: RecordKey, actor: String, context: VersionVector, now: Timestamp) throws(ProtocolError) -> CommitOutcome {
        try rules.delete(&records[key], actor: actor, context: context, now: now)
    }

    public func checkContext(_ key: RecordKey, _ context: VersionVector) throws(ProtocolError) {
        try RecordRules.checkContext(records[key], context)
    }
}
