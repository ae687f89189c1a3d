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

    public var isAccepted: Bool {
        if case .accepted = self { return true }
        return false
    }

    public struct Accepted: Equatable, Sendable {
        public var version: VersionVector
        public var dot: Dot
        /// Sorted; empty for a whole-record commit or a delete.
        public var fields: [String]
        public var deleted: Bool

        public init(version: VersionVector, dot: Dot, fields: [String], deleted: Bool) {
            self.version = version
            self.dot = dot
            self.fields = fields
            self.deleted = deleted
        }
    }

    public struct Conflict: Equatable, Sendable {
        public enum Kind: String, Sendable { case fields, deleted }
        public var kind: Kind
        public var fields: [FieldConflict]
        public var version: VersionVector
        public var deletedBy: FieldWrite?
    }
}

/// The rules that accept or refuse a commit, applied to one record's state.
///
/// Pure and per record: a decision reads and changes the state it is given and nothing else, so
/// its cost is the size of that record, whatever else is stored. The caller passes the time in
/// and persists the state an accepted decision leaves.
public struct RecordRules: Sendable {
    /// Actors one record's vector keeps before the oldest fold into `~`.
    public let maxActors: Int

    public init(maxActors: Int = 32) {
        self.maxActors = max(1, maxActors)
    }

    /// Accepts the commit when its context covers every write to the fields it changes (disjoint
    /// concurrent edits merge); otherwise answers which fields changed since, by whom and when.
    /// `state` changes only when the commit is accepted (nil: the record was never written).
    public func commit(_ state: inout RecordState?, _ commit: Commit, now: Timestamp) throws(ProtocolError) -> CommitOutcome {
        try Self.validate(commit.actor)
        return try Self.change(&state) { (record: inout RecordState) throws(ProtocolError) -> CommitOutcome in
            if let conflict = try Self.conflict(record, commit.context, fields: commit.fields.map { Array($0.keys) }) {
                return .conflict(conflict)
            }
            let dot = record.version.increment(commit.actor)
            let write = FieldWrite(dot: dot, at: now)
            if let fields = commit.fields {
                for (name, value) in fields {
                    var fieldWrite = write
                    fieldWrite.value = value
                    record.fields[name] = fieldWrite
                }
            } else {
                record.wholeWrite = write
            }
            record.noteWrite(by: commit.actor, maxActors: maxActors)
            return .accepted(
                .init(
                    version: record.version, dot: dot,
                    fields: (commit.fields.map { Array($0.keys) } ?? []).sorted(), deleted: false))
        }
    }

    /// Deletes the record when the context has seen every write to it; leaves a tombstone.
    public func delete(_ state: inout RecordState?, actor: String, context: VersionVector, now: Timestamp) throws(ProtocolError) -> CommitOutcome {
        try Self.validate(actor)
        return try Self.change(&state) { (record: inout RecordState) throws(ProtocolError) -> CommitOutcome in
            if let conflict = try Self.conflict(record, context, fields: nil) { return .conflict(conflict) }
            let dot = record.version.increment(actor)
            record.tombstone = FieldWrite(dot: dot, at: now)
            record.noteWrite(by: actor, maxActors: maxActors)
            return .accepted(.init(version: record.version, dot: dot, fields: [], deleted: true))
        }
    }

    /// Runs a decision on the record moved out of `state`, so that its writes change the record's
    /// storage in place rather than a copy; a record that did not exist stays absent on a conflict.
    private static func change(_ state: inout RecordState?, _ decide: (inout RecordState) throws(ProtocolError) -> CommitOutcome) throws(ProtocolError)
        -> CommitOutcome
    {
        let existed = state != nil
        var record = state.take() ?? RecordState()
        var outcome: CommitOutcome?
        defer { if existed || outcome?.isAccepted == true { state = record } }
        outcome = try decide(&record)
        return outcome!
    }

    /// Refuses a context that claims writes the record never had: what `record.edit` declares must
    /// be a version a commit could use.
    public static func checkContext(_ state: RecordState?, _ context: VersionVector) throws(ProtocolError) {
        try checkContext(state ?? RecordState(), context)
    }

    private static func checkContext(_ state: RecordState, _ context: VersionVector) throws(ProtocolError) {
        // A context cannot have seen writes the record never had. Once actors have been folded, an
        // actor missing from the record may be one of them, so only known actors are checked then.
        for (actor, counter) in context.counters where counter > state.version[actor] && (state.version.counters[actor] != nil || state.folds == 0) {
            throw ProtocolError(.invalidFrame, "context names write \(actor):\(counter), which this record does not have")
        }
    }

    private static func conflict(_ state: RecordState, _ context: VersionVector, fields: [String]?) throws(ProtocolError) -> CommitOutcome.Conflict? {
        try checkContext(state, context)
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
