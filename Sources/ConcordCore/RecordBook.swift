/// A commit request: who, on what context, changing which fields (nil: the whole record).
public struct Commit: Sendable {
    public var actor: String
    public var context: VersionVector
    /// Field name to new value (or nil when the value is not shared); nil means the whole record.
    public var fields: [String: JSONValue?]?

    public init(actor: String, context: VersionVector, fields: [String: JSONValue?]?) {
        self.actor = actor
        self.context = context
        self.fields = fields
    }
}

/// What a commit or a delete came to.
public enum CommitOutcome: Equatable, Sendable {
    case accepted(Accepted)
    case conflict(Conflict)

    public struct Accepted: Equatable, Sendable {
        public var version: VersionVector
        public var dot: Dot
        /// Sorted; empty for a whole-record commit or a delete.
        public var fields: [String]
        public var deleted: Bool
    }

    public struct Conflict: Equatable, Sendable {
        public enum Kind: String, Sendable { case fields, deleted }
        public var kind: Kind
        public var fields: [FieldConflict]
        public var version: VersionVector
        public var deletedBy: FieldWrite?
    }
}

/// Every record's version and field dots, and the rules that accept or refuse a commit.
///
/// Pure: the caller passes the time in, and persists the states this returns.
public struct RecordBook: Sendable {
    public private(set) var records: [RecordKey: RecordState] = [:]
    /// Actors one record's vector keeps before the oldest fold into `~`.
    public let maxActors: Int

    public init(maxActors: Int = 32) {
        self.maxActors = max(1, maxActors)
    }

    public var count: Int { records.count }

    public func state(of key: RecordKey) -> RecordState? { records[key] }

    /// Puts back states read from durable storage, all at once so the table grows only once.
    public mutating func restore(_ states: [(RecordKey, RecordState)]) {
        records.reserveCapacity(records.count + states.count)
        for (key, state) in states { records[key] = state }
    }

    /// Accepts the commit when its context covers every write to the fields it changes (disjoint
    /// concurrent edits merge); otherwise answers which fields changed since, by whom and when.
    public mutating func commit(_ key: RecordKey, _ commit: Commit, now: Timestamp) throws(ProtocolError) -> CommitOutcome {
        try Self.validate(commit.actor)
        var state = records[key] ?? RecordState()
        if let conflict = try conflict(state, commit.context, fields: commit.fields.map { Array($0.keys) }) {
            return .conflict(conflict)
        }
        let dot = state.version.increment(commit.actor)
        let write = FieldWrite(dot: dot, at: now)
        if let fields = commit.fields {
            for (name, value) in fields {
                var fieldWrite = write
                fieldWrite.value = value
                state.fields[name] = fieldWrite
            }
        } else {
            state.wholeWrite = write
        }
        state.noteWrite(by: commit.actor, maxActors: maxActors)
        records[key] = state
        return .accepted(.init(version: state.version, dot: dot,
                               fields: (commit.fields.map { Array($0.keys) } ?? []).sorted(), deleted: false))
    }

    /// Deletes the record when the context has seen every write to it; leaves a tombstone.
    public mutating func delete(_ key: RecordKey, actor: String, context: VersionVector, now: Timestamp) throws(ProtocolError) -> CommitOutcome {
        try Self.validate(actor)
        var state = records[key] ?? RecordState()
        if let conflict = try conflict(state, context, fields: nil) { return .conflict(conflict) }
        let dot = state.version.increment(actor)
        state.tombstone = FieldWrite(dot: dot, at: now)
        state.noteWrite(by: actor, maxActors: maxActors)
        records[key] = state
        return .accepted(.init(version: state.version, dot: dot, fields: [], deleted: true))
    }

    /// Refuses a context that claims writes the record never had: what `record.edit` declares must
    /// be a version a commit could use.
    public func checkContext(_ key: RecordKey, _ context: VersionVector) throws(ProtocolError) {
        try Self.checkContext(records[key] ?? RecordState(), context)
    }

    private static func checkContext(_ state: RecordState, _ context: VersionVector) throws(ProtocolError) {
        // A context cannot have seen writes the record never had. Once actors have been folded, an
        // actor missing from the record may be one of them, so only known actors are checked then.
        for (actor, counter) in context.counters where counter > state.version[actor] && (state.version.counters[actor] != nil || state.folds == 0) {
            throw ProtocolError(.invalidFrame, "context names write \(actor):\(counter), which this record does not have")
        }
    }

    private func conflict(_ state: RecordState, _ context: VersionVector, fields: [String]?) throws(ProtocolError) -> CommitOutcome.Conflict? {
        try Self.checkContext(state, context)
        if let tombstone = state.tombstone {
            return .init(kind: .deleted, fields: [], version: state.version, deletedBy: tombstone)
        }
        let unseen = state.unseen(by: context, fields: fields)
        return unseen.isEmpty ? nil : .init(kind: .fields, fields: unseen, version: state.version, deletedBy: nil)
    }

    static func validate(_ actor: String) throws(ProtocolError) {
        guard !actor.isEmpty, actor.utf8.count <= 200, !actor.hasPrefix(RecordState.floorActor) else {
            throw ProtocolError(.invalidFrame, "actor must be 1 to 200 bytes and not start with \"~\"")
        }
    }
}
