/// Field decoding shared by the presence and typing commands.
extension ClientCommand {
    public static let maxPresenceInfoBytes = 2048
    public static let maxScopeBytes = 64

    static func channel(_ object: [String: JSONValue], _ op: String) throws(ProtocolError) -> String {
        guard case .string(let channel)? = object["channel"] else {
            throw ProtocolError(.invalidFrame, "\(op) needs \"channel\" as a string")
        }
        if let error = ChannelName.validate(channel) { throw error }
        return channel
    }

    /// Presence info: any JSON value (an empty object when missing), small enough to fan out.
    public static func presenceInfo(_ object: [String: JSONValue], _ op: String) throws(ProtocolError) -> JSONValue {
        let info = object["info"] ?? .object([:])
        var writer = JSONWriter()
        writer.value(info)
        guard writer.bytes.count <= maxPresenceInfoBytes else {
            throw ProtocolError(.invalidFrame, "\(op) \"info\" is over \(maxPresenceInfoBytes) bytes")
        }
        return info
    }

    static func typingScope(_ object: [String: JSONValue]) throws(ProtocolError) -> String? {
        switch object["scope"] {
        case nil, .null?: return nil
        case .string(let scope)? where !scope.isEmpty && scope.utf8.count <= maxScopeBytes: return scope
        default: throw ProtocolError(.invalidFrame, "\"scope\" must be a string of 1 to \(maxScopeBytes) bytes")
        }
    }
}
