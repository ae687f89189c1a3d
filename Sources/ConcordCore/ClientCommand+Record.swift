/// Decoding of the `record.*` commands.
extension ClientCommand {
    public static let maxCommitFields = 100
    public static let maxFieldNameBytes = 100
    public static let maxCommitValueBytes = 16_384

    public static func recordKey(_ object: [String: JSONValue], _ op: String) throws(ProtocolError) -> RecordKey {
        let channel = try channel(object, op)
        guard let id = object["record"]?.idString, !id.isEmpty, id.utf8.count <= 200 else {
            throw ProtocolError(.invalidFrame, "\(op) needs \"record\" as a string or a number (the record's id)")
        }
        return RecordKey(channel: channel, id: id)
    }

    /// The fields a commit changes: an object of new values, an array of names, or nil (whole record).
    public static func commitFields(_ value: JSONValue?) throws(ProtocolError) -> [String: JSONValue?]? {
        var fields: [String: JSONValue?] = [:]
        switch value {
        case nil, .null?:
            return nil
        case .array(let names)?:
            for name in names {
                guard case .string(let s) = name else { throw ProtocolError(.invalidFrame, "\"fields\" names must be strings") }
                fields[s] = .some(nil)
            }
        case .object(let values)?:
            var writer = JSONWriter()
            writer.value(.object(values))
            guard writer.bytes.count <= maxCommitValueBytes else {
                throw ProtocolError(.invalidFrame, "commit values are over \(maxCommitValueBytes) bytes")
            }
            for (name, v) in values { fields[name] = v == .null ? .some(nil) : .some(v) }
        default:
            throw ProtocolError(.invalidFrame, "\"fields\" must be an object of values or an array of names")
        }
        guard !fields.isEmpty, fields.count <= maxCommitFields,
            fields.keys.allSatisfy({ !$0.isEmpty && $0.utf8.count <= maxFieldNameBytes })
        else {
            throw ProtocolError(.invalidFrame, "a commit changes 1 to \(maxCommitFields) fields named by 1 to \(maxFieldNameBytes) bytes")
        }
        return fields
    }
}
