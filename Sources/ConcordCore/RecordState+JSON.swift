// The JSON forms of record state: the stored form of a whole `RecordState` (what the durable store
// writes and reads back) and the wire form of a `VersionVector` (what clients send as a context).
//
// Stored form, one object, members omitted when empty or absent:
//
//     {"version":{"alice":2,"~":1},"fields":{"title":["bob",1,1763805600000,"Hi"]},
//      "whole":["alice",2,1763805600000],"tombstone":[...],"actors":["bob","alice"],"folds":1}
//
// A write is `[actor, counter, at in milliseconds]` plus, when the writer shared it, the value as a
// fourth element: a shared `null` (four elements) stays distinct from an unshared value (three).

extension RecordState {
    /// The stored form as compact JSON. Actors, fields and the keys inside shared values are written
    /// in sorted order: a dump of the store reads and diffs well, and equal states encode to equal
    /// bytes, which a shared store compares to decide whether it still holds a write's base.
    public var jsonBytes: [UInt8] {
        var w = JSONWriter(reservingCapacity: 96 + fields.count * 48)
        w.raw("{")
        w.key("version", first: true)
        Self.write(version, to: &w)
        if !fields.isEmpty {
            w.key("fields")
            w.raw("{")
            for (i, name) in fields.keys.sorted().enumerated() {
                if i > 0 { w.raw(",") }
                w.string(name)
                w.raw(":")
                Self.write(fields[name]!, to: &w)
            }
            w.raw("}")
        }
        if let wholeWrite {
            w.key("whole")
            Self.write(wholeWrite, to: &w)
        }
        if let tombstone {
            w.key("tombstone")
            Self.write(tombstone, to: &w)
        }
        if !actors.isEmpty {
            w.key("actors")
            w.raw("[")
            for (i, actor) in actors.enumerated() {
                if i > 0 { w.raw(",") }
                w.string(actor)
            }
            w.raw("]")
        }
        if folds > 0 {
            w.key("folds")
            w.rawBytes(String(folds).utf8)
        }
        w.raw("}")
        return w.bytes
    }

    /// Reads the stored form back. Strict: unknown members and malformed writes are refused, since
    /// silently dropping part of a state would lose the writes a later commit must be checked against.
    public init(json: [UInt8]) throws(RecordStateJSONError) {
        self.init()
        var r = StoredJSONReader(json)
        try r.object { r, key throws(RecordStateJSONError) in
            switch key {
            // Members are collected first so that each dictionary is allocated once, at its size.
            case "version":
                var counters: [(String, UInt64)] = []
                try r.object { r, actor throws(RecordStateJSONError) in counters.append((actor, try r.unsigned())) }
                version = VersionVector(Dictionary(counters, uniquingKeysWith: { _, last in last }))
            case "fields":
                var writes: [(String, FieldWrite)] = []
                try r.object { r, name throws(RecordStateJSONError) in writes.append((name, try r.write())) }
                fields = Dictionary(writes, uniquingKeysWith: { _, last in last })
            case "whole": wholeWrite = try r.write()
            case "tombstone": tombstone = try r.write()
            case "actors": try r.array { r throws(RecordStateJSONError) in actors.append(try r.string()) }
            case "folds": folds = try r.unsigned()
            default: throw r.failure("unknown member \"\(key)\"")
            }
        }
        try r.end()
    }

    private static func write(_ version: VersionVector, to w: inout JSONWriter) {
        w.raw("{")
        for (i, (actor, counter)) in version.counters.sorted(by: { $0.key < $1.key }).enumerated() {
            if i > 0 { w.raw(",") }
            w.string(actor)
            w.raw(":")
            w.rawBytes(String(counter).utf8)
        }
        w.raw("}")
    }

    private static func write(_ write: FieldWrite, to w: inout JSONWriter) {
        w.raw("[")
        w.string(write.dot.actor)
        w.raw(",")
        w.rawBytes(String(write.dot.counter).utf8)
        w.raw(",")
        w.int(write.at.milliseconds)
        if let value = write.value {
            w.raw(",")
            writeSorted(value, to: &w)
        }
        w.raw("]")
    }

    /// Like `JSONWriter.value`, with object keys in order (a dictionary's own order differs
    /// between processes).
    private static func writeSorted(_ value: JSONValue, to w: inout JSONWriter) {
        switch value {
        case .array(let elements):
            w.raw("[")
            for (i, element) in elements.enumerated() {
                if i > 0 { w.raw(",") }
                writeSorted(element, to: &w)
            }
            w.raw("]")
        case .object(let members):
            w.raw("{")
            for (i, key) in members.keys.sorted().enumerated() {
                if i > 0 { w.raw(",") }
                w.string(key)
                w.raw(":")
                writeSorted(members[key]!, to: &w)
            }
            w.raw("}")
        default:
            w.value(value)
        }
    }
}

/// Why stored record state could not be read back: where in the bytes, and what was wrong.
public struct RecordStateJSONError: Error, Equatable, Sendable, CustomStringConvertible {
    public var offset: Int
    public var reason: String

    public var description: String { "malformed record state at byte \(offset): \(reason)" }
}
