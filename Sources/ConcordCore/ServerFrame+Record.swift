/// The frames and bodies of the `record.*` family. HTTP bodies are the same objects without `op`/`id`.
extension ServerFrame {
    static func writeVersion(_ version: VersionVector, into w: inout JSONWriter) {
        w.raw("{")
        for (i, (actor, counter)) in version.counters.sorted(by: { $0.key < $1.key }).enumerated() {
            if i > 0 { w.raw(",") }
            w.string(actor); w.raw(":"); w.int(Int64(counter))
        }
        w.raw("}")
    }

    static func writeChange(_ change: FieldConflict, into w: inout JSONWriter) {
        w.raw("{\"field\":"); w.string(change.field)
        w.raw(",\"actor\":"); w.string(change.actor)
        w.raw(",\"at\":"); w.string(change.at.iso8601)
        if let value = change.value { w.raw(",\"value\":"); w.value(value) }
        w.raw("}")
    }

    /// `{"op":OP,"id":ID,` or `{` for HTTP bodies, then the record's channel and id.
    private static func recordHead(_ op: StaticString?, id: JSONValue?, key: RecordKey) -> JSONWriter {
        var w = JSONWriter()
        if let op {
            w.raw("{\"op\":\""); w.raw(op); w.raw("\"")
            if let id { w.key("id"); w.value(id) }
            w.key("channel")
        } else {
            w.raw("{\"channel\":")
        }
        w.string(key.channel)
        w.key("record"); w.string(key.id)
        return w
    }

    public static func recordReply(_ op: StaticString, id: JSONValue?, key: RecordKey) -> [UInt8] {
        var w = recordHead(op, id: id, key: key)
        w.raw("}")
        return w.bytes
    }

    public static func recordState(_ op: StaticString?, id: JSONValue?, key: RecordKey, state: RecordState?) -> [UInt8] {
        var w = recordHead(op, id: id, key: key)
        let state = state ?? RecordState()
        w.key("version"); writeVersion(state.version, into: &w)
        w.key("deleted"); state.tombstone == nil ? w.raw("false") : w.raw("true")
        if let tombstone = state.tombstone {
            w.key("deletedBy"); w.raw("{\"actor\":"); w.string(tombstone.dot.actor)
            w.raw(",\"at\":"); w.string(tombstone.at.iso8601); w.raw("}")
        }
        w.key("fields"); w.raw("{")
        for (i, (name, write)) in state.fields.sorted(by: { $0.key < $1.key }).enumerated() {
            if i > 0 { w.raw(",") }
            w.string(name)
            w.raw(":{\"actor\":"); w.string(write.dot.actor)
            w.raw(",\"counter\":"); w.int(Int64(write.dot.counter))
            w.raw(",\"at\":"); w.string(write.at.iso8601)
            if let value = write.value { w.raw(",\"value\":"); w.value(value) }
            w.raw("}")
        }
        w.raw("}}")
        return w.bytes
    }

    public static func committed(_ op: StaticString?, id: JSONValue?, key: RecordKey, _ accepted: CommitOutcome.Accepted) -> [UInt8] {
        var w = recordHead(op, id: id, key: key)
        w.key("version"); writeVersion(accepted.version, into: &w)
        w.key("dot"); w.raw("{\"actor\":"); w.string(accepted.dot.actor)
        w.raw(",\"counter\":"); w.int(Int64(accepted.dot.counter)); w.raw("}")
        w.key("fields"); writeStrings(accepted.fields, into: &w)
        w.key("deleted"); accepted.deleted ? w.raw("true") : w.raw("false")
        w.raw("}")
        return w.bytes
    }

    /// The answer to a dry run a commit would pass: `"dryRun": true`, the record's version as it
    /// is (nothing was written, so there is no dot), and the fields the commit would change.
    public static func checked(key: RecordKey, current: VersionVector, _ accepted: CommitOutcome.Accepted) -> [UInt8] {
        var w = recordHead(nil, id: nil, key: key)
        w.key("dryRun"); w.raw("true")
        w.key("version"); writeVersion(current, into: &w)
        w.key("fields"); writeStrings(accepted.fields, into: &w)
        w.key("deleted"); accepted.deleted ? w.raw("true") : w.raw("false")
        w.raw("}")
        return w.bytes
    }

    public static func conflict(_ op: StaticString?, id: JSONValue?, key: RecordKey, _ conflict: CommitOutcome.Conflict) -> [UInt8] {
        var w = recordHead(op, id: id, key: key)
        w.key("kind"); w.string(conflict.kind.rawValue)
        w.key("version"); writeVersion(conflict.version, into: &w)
        w.key("conflicts"); w.raw("[")
        for (i, change) in conflict.fields.enumerated() {
            if i > 0 { w.raw(",") }
            writeChange(change, into: &w)
        }
        w.raw("]")
        if let deletedBy = conflict.deletedBy {
            w.key("deletedBy"); w.raw("{\"actor\":"); w.string(deletedBy.dot.actor)
            w.raw(",\"at\":"); w.string(deletedBy.at.iso8601); w.raw("}")
        }
        w.raw("}")
        return w.bytes
    }

    public static func stale(key: RecordKey, by actor: String, deleted: Bool, version: VersionVector, changes: [FieldConflict]) -> [UInt8] {
        var w = recordHead("record.stale", id: nil, key: key)
        w.key("by"); w.string(actor)
        w.key("deleted"); deleted ? w.raw("true") : w.raw("false")
        w.key("version"); writeVersion(version, into: &w)
        w.key("changes"); w.raw("[")
        for (i, change) in changes.enumerated() {
            if i > 0 { w.raw(",") }
            writeChange(change, into: &w)
        }
        w.raw("]}")
        return w.bytes
    }

    static func writeStrings(_ strings: [String], into w: inout JSONWriter) {
        w.raw("[")
        for (i, s) in strings.enumerated() {
            if i > 0 { w.raw(",") }
            w.string(s)
        }
        w.raw("]")
    }
}
