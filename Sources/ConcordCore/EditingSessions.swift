/// Who declared they are editing which record, on which context: the source of early warnings.
public struct EditingSessions<Session: Hashable> {
    public struct Editor: Equatable {
        public var user: String
        public var context: VersionVector
    }

    private var editors: [RecordKey: [Session: Editor]] = [:]
    private var bySession: [Session: Set<RecordKey>] = [:]

    public init() {}

    public var count: Int { bySession.values.reduce(0) { $0 + $1.count } }

    public func records(of session: Session) -> Int { bySession[session]?.count ?? 0 }

    /// Declares (or moves) an editing session; a later commit by someone else that this context has
    /// not seen makes it stale.
    public mutating func edit(_ session: Session, user: String, key: RecordKey, context: VersionVector) {
        editors[key, default: [:]][session] = Editor(user: user, context: context)
        bySession[session, default: []].insert(key)
    }

    @discardableResult
    public mutating func leave(_ session: Session, key: RecordKey) -> Bool {
        guard editors[key]?.removeValue(forKey: session) != nil else { return false }
        if editors[key]?.isEmpty == true { editors[key] = nil }
        bySession[session]?.remove(key)
        if bySession[session]?.isEmpty == true { bySession[session] = nil }
        return true
    }

    public mutating func removeAll(_ session: Session) {
        for key in bySession.removeValue(forKey: session) ?? [] {
            editors[key]?[session] = nil
            if editors[key]?.isEmpty == true { editors[key] = nil }
        }
    }

    /// After an accepted commit: every other user's editing session whose context has not seen it,
    /// with the fields that changed since that context. Each is warned once per commit.
    public func staleEditors(of key: RecordKey, after accepted: CommitOutcome.Accepted, state: RecordState) -> [(Session, [FieldConflict])] {
        guard let sessions = editors[key] else { return [] }
        var result: [(Session, [FieldConflict])] = []
        for (session, editor) in sessions where editor.user != accepted.dot.actor && !editor.context.covers(accepted.dot) {
            let changed =
                accepted.deleted
                ? [FieldConflict(field: "*", write: state.tombstone!)]
                : state.unseen(by: editor.context, fields: accepted.fields.isEmpty ? nil : accepted.fields)
            result.append((session, changed))
        }
        return result
    }
}
