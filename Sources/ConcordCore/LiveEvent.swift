/// A Refine LiveEvent `{channel, type, payload: {ids?}, date, meta?}`, validated once when published.
public struct LiveEvent: Sendable, Equatable {
    public var channel: String
    public var type: String
    /// `payload.ids` as strings, since Refine ids compare as strings; nil when the payload names no ids.
    public var ids: [String]?
    /// The whole event as sent, with `date` filled in: what subscribers receive.
    public var body: [String: JSONValue]

    public static let maxTypeBytes = 100

    /// Validates a LiveEvent object. `now` fills in a missing `date`, so the core never reads a clock.
    public init(json: [String: JSONValue], now: Timestamp) throws(ProtocolError) {
        guard case .string(let channel)? = json["channel"] else {
            throw ProtocolError(.invalidEvent, "event needs \"channel\" as a string")
        }
        if let error = ChannelName.validate(channel) { throw error }
        guard case .string(let type)? = json["type"], !type.isEmpty, type.utf8.count <= Self.maxTypeBytes else {
            throw ProtocolError(.invalidEvent, "event needs \"type\" as a non-empty string of at most \(Self.maxTypeBytes) bytes")
        }
        var body = json
        switch json["payload"] {
        case nil:
            body["payload"] = .object([:])
            ids = nil
        case .object(let payload)?:
            switch payload["ids"] {
            case nil, .null?:
                ids = nil
            case .array(let raw)?:
                guard let strings = JSONValue.idStrings(raw) else {
                    throw ProtocolError(.invalidEvent, "payload.ids must hold strings and numbers")
                }
                ids = strings
            default:
                throw ProtocolError(.invalidEvent, "payload.ids must be an array")
            }
        default:
            throw ProtocolError(.invalidEvent, "event \"payload\" must be an object")
        }
        switch json["date"] {
        case nil, .null?: body["date"] = .string(now.iso8601)
        case .string?: break
        default: throw ProtocolError(.invalidEvent, "event \"date\" must be an ISO 8601 string")
        }
        if let meta = json["meta"], meta.objectValue == nil, meta != .null {
            throw ProtocolError(.invalidEvent, "event \"meta\" must be an object")
        }
        self.channel = channel
        self.type = type
        self.body = body
    }
}
