/// A record under conflict detection: a channel plus an id, such as `resources/posts` + `1`.
public struct RecordKey: Hashable, Sendable, CustomStringConvertible {
    public var channel: String
    public var id: String

    public init(channel: String, id: String) {
        self.channel = channel
        self.id = id
    }

    public var description: String { "\(channel)#\(id)" }
}

/// One accepted write to a field (or to the whole record): its dot, when, and the value if known.
public struct FieldWrite: Equatable, Sendable {
    public var dot: Dot
    public var at: Timestamp
    public var value: JSONValue?

    public init(dot: Dot, at: Timestamp, value: JSONValue? = nil) {
        self.dot = dot
        self.at = at
        self.value = value
    }
}

/// Everything Concord keeps about a record: its version vector and the dot of each field's last write.
public struct RecordState: Equatable, Sendable {
    public var version = VersionVector()
    public var fields: [String: FieldWrite] = [:]
    /// The last commit made without a field list: it touched the whole record.
    public var wholeWrite: FieldWrite?
    /// Set once the record is deleted; every later commit is a conflict of kind `deleted`.
    public var tombstone: FieldWrite?
    /// Actors by recency of their last write, oldest first: the order in which they fold.
    public var actors: [String] = []
    /// How many times old actors were folded into the floor actor `~`.
    public var folds: UInt64 = 0

    public init() {}

    /// The actor old writes fold into; user ids cannot start with `~`.
    public static let floorActor = "~"

    /// Writes the context has not seen: per field, and `*` for a whole-record write.
    public func unseen(by context: VersionVector, fields names: [String]?) -> [FieldConflict] {
        var conflicts: [FieldConflict] = []
        let candidates: [(String, FieldWrite)]
        if let names {
            candidates = names.compactMap { name in fields[name].map { (name, $0) } }
        } else {
            candidates = fields.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        }
        for (name, write) in candidates where !context.covers(write.dot) {
            conflicts.append(FieldConflict(field: name, write: write))
        }
        if let whole = wholeWrite, !context.covers(whole.dot) {
            conflicts.append(FieldConflict(field: "*", write: whole))
        }
        return conflicts
    }

    /// Moves `actor` to the most recent end and folds the oldest actors past `maxActors` into `~`:
    /// their field dots become the floor's, so a context taken after the fold covers them, and an
    /// older context sees them as unseen (a possible false conflict, never a lost update).
    mutating func noteWrite(by actor: String, maxActors: Int) {
        actors.removeAll { $0 == actor }
        actors.append(actor)
        guard actors.count > maxActors else { return }
        let folded = Set(actors.prefix(actors.count - maxActors))
        actors.removeFirst(actors.count - maxActors)
        folds += 1
        let floor = Dot(actor: Self.floorActor, counter: folds)
        for actor in folded { version.remove(actor) }
        version.set(Self.floorActor, folds)
        for (name, write) in fields where folded.contains(write.dot.actor) { fields[name]?.dot = floor }
        if let whole = wholeWrite, folded.contains(whole.dot.actor) { wholeWrite?.dot = floor }
    }
}

/// A field changed since a client's context: who changed it, when, and the value when known.
public struct FieldConflict: Equatable, Sendable {
    public var field: String
    public var actor: String
    public var at: Timestamp
    public var value: JSONValue?

    public init(field: String, write: FieldWrite) {
        self.field = field
        actor = write.dot.actor
        at = write.at
        value = write.value
    }
}

extension RecordState {
    /// The commit that left this state, as `RecordRules` answered it: another node's write carries
    /// only the state, and its editors' warnings are worked out from it here. The last writer is
    /// the most recent actor (folding never removes it), and its write's dot marks what it changed.
    public var lastAccepted: CommitOutcome.Accepted? {
        guard let actor = actors.last else { return nil }
        let dot = Dot(actor: actor, counter: version[actor])
        if tombstone?.dot == dot { return .init(version: version, dot: dot, fields: [], deleted: true) }
        let changed = fields.filter { $0.value.dot == dot }.map(\.key).sorted()
        return .init(version: version, dot: dot, fields: wholeWrite?.dot == dot ? [] : changed, deleted: false)
    }
}
