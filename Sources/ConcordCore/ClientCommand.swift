/// A command a client sends over the WebSocket, decoded and checked field by field.
public enum ClientCommand: Equatable, Sendable {
    case subscribe(Subscribe)
    case unsubscribe(sub: JSONValue)
    case publish(event: [String: JSONValue])
    case ping
    /// A fresh token for the connection's user (before the current one expires).
    case auth(token: String)
    case presenceEnter(channel: String, info: JSONValue)
    case presenceUpdate(channel: String, info: JSONValue)
    case presenceLeave(channel: String)
    case presenceSubscribe(channel: String)
    case presenceUnsubscribe(channel: String)
    case typingStart(channel: String, scope: String?)
    case typingStop(channel: String, scope: String?)
    case typingSubscribe(channel: String)
    case typingUnsubscribe(channel: String)
    case recordGet(RecordKey)
    case recordEdit(RecordKey, context: VersionVector)
    case recordStop(RecordKey)
    case recordCommit(RecordKey, context: VersionVector, fields: [String: JSONValue?]?)
    case recordDelete(RecordKey, context: VersionVector)

    public struct Subscribe: Equatable, Sendable {
        public var sub: JSONValue
        public var channel: String
        public var filter: SubscriptionFilter
        /// How many ids the subscription listed, repeats included (the limit counts what was sent).
        /// A list longer than `maxIDs` is not read (the filter then has no ids): the caller must
        /// refuse the command by this count against its own limit, which is never above `maxIDs`.
        public var idCount = 0
        /// The position the client last saw on the channel: recover what came after it.
        public var since: StreamPosition?
        /// At most one delivery per this many milliseconds, the events between merged (`Coalescer`).
        public var coalesce: Int64?
    }

    /// The shortest and longest coalescing windows a subscription may ask for.
    public static let coalesceRange: ClosedRange<Int64> = 10...60_000

    public static let maxTypes = 64
    /// The most ids a subscription can carry at all; the server's `--max-subscription-ids` (1,000 by
    /// default) may only lower it.
    public static let maxIDs = 10_000
    static let maxSubNameBytes = 64

    /// The command's correlation id, when it has a usable one: replies and errors echo it.
    public static func correlationID(in object: [String: JSONValue]) -> JSONValue? {
        switch object["id"] {
        case .int?, .double?: return object["id"]
        case .string(let s)? where s.utf8.count <= maxSubNameBytes: return object["id"]
        default: return nil
        }
    }

    /// Decodes a command object. Unknown fields are ignored so that later clients stay compatible.
    public static func decode(_ object: [String: JSONValue]) throws(ProtocolError) -> ClientCommand {
        guard case .string(let op)? = object["op"] else {
            throw ProtocolError(.invalidFrame, "every frame needs \"op\" as a string")
        }
        if let id = object["id"], correlationID(in: object) == nil {
            throw ProtocolError(.invalidFrame, "\"id\" must be a number or a string of at most 64 bytes, not \(id.typeName)")
        }
        switch op {
        case "subscribe": return .subscribe(try decodeSubscribe(object))
        case "unsubscribe": return .unsubscribe(sub: try subscriptionName(object, op: op))
        case "publish":
            guard case .object(let event)? = object["event"] else {
                throw ProtocolError(.invalidFrame, "publish needs \"event\" as an object")
            }
            return .publish(event: event)
        case "ping": return .ping
        case "auth":
            guard case .string(let token)? = object["token"], !token.isEmpty else {
                throw ProtocolError(.invalidFrame, "auth needs \"token\" as a non-empty string")
            }
            return .auth(token: token)
        case "presence.enter": return .presenceEnter(channel: try channel(object, op), info: try presenceInfo(object, op))
        case "presence.update": return .presenceUpdate(channel: try channel(object, op), info: try presenceInfo(object, op))
        case "presence.leave": return .presenceLeave(channel: try channel(object, op))
        case "presence.subscribe": return .presenceSubscribe(channel: try channel(object, op))
        case "presence.unsubscribe": return .presenceUnsubscribe(channel: try channel(object, op))
        case "typing.start": return .typingStart(channel: try channel(object, op), scope: try typingScope(object))
        case "typing.stop": return .typingStop(channel: try channel(object, op), scope: try typingScope(object))
        case "typing.subscribe": return .typingSubscribe(channel: try channel(object, op))
        case "typing.unsubscribe": return .typingUnsubscribe(channel: try channel(object, op))
        case "record.get": return .recordGet(try recordKey(object, op))
        case "record.edit": return .recordEdit(try recordKey(object, op), context: try VersionVector.from(object["version"]))
        case "record.stop": return .recordStop(try recordKey(object, op))
        case "record.commit":
            return .recordCommit(
                try recordKey(object, op), context: try VersionVector.from(object["version"]),
                fields: try commitFields(object["fields"]))
        case "record.delete": return .recordDelete(try recordKey(object, op), context: try VersionVector.from(object["version"]))
        default:
            let shown = op.utf8.count <= 40 ? op : String(op.prefix(40)) + "..."
            throw ProtocolError(.unknownOp, "unknown op \"\(shown)\"")
        }
    }

    static func subscriptionName(_ object: [String: JSONValue], op: String) throws(ProtocolError) -> JSONValue {
        switch object["sub"] {
        case .int?, .double?: return object["sub"]!
        case .string(let s)? where !s.isEmpty && s.utf8.count <= maxSubNameBytes: return object["sub"]!
        default:
            throw ProtocolError(.invalidFrame, "\(op) needs \"sub\" as a number or a string of 1 to \(maxSubNameBytes) bytes")
        }
    }

    static func decodeSubscribe(_ object: [String: JSONValue]) throws(ProtocolError) -> Subscribe {
        let sub = try subscriptionName(object, op: "subscribe")
        guard case .string(let channel)? = object["channel"] else {
            throw ProtocolError(.invalidFrame, "subscribe needs \"channel\" as a string")
        }
        if let error = ChannelName.validate(channel) { throw error }
        var types = ["*"]
        switch object["types"] {
        case nil, .null?: break
        case .array(let raw)?:
            guard raw.count <= maxTypes else {
                throw ProtocolError(.invalidFrame, "at most \(maxTypes) types per subscription")
            }
            types = []
            for t in raw {
                guard case .string(let s) = t else {
                    throw ProtocolError(.invalidFrame, "\"types\" must be an array of strings")
                }
                types.append(s)
            }
        default:
            throw ProtocolError(.invalidFrame, "\"types\" must be an array of strings")
        }
        var ids: [String]?
        var idCount: Int?
        switch object["params"] {
        case nil, .null?: break
        case .object(let params)?:
            switch params["ids"] {
            case nil, .null?: break
            case .array(let raw)?:
                guard raw.count <= maxIDs else {
                    // Not read at all; the server refuses it by `idCount`, naming the limit in force.
                    idCount = raw.count
                    break
                }
                guard let strings = JSONValue.idStrings(raw) else {
                    throw ProtocolError(.invalidFrame, "params.ids must hold strings and numbers")
                }
                ids = strings
            default:
                throw ProtocolError(.invalidFrame, "params.ids must be an array")
            }
        default:
            throw ProtocolError(.invalidFrame, "\"params\" must be an object")
        }
        return Subscribe(
            sub: sub, channel: channel, filter: SubscriptionFilter(types: types, ids: ids), idCount: idCount ?? ids?.count ?? 0,
            since: try position(object["since"], "since"), coalesce: try coalesceWindow(object["coalesce"]))
    }

    static func coalesceWindow(_ value: JSONValue?) throws(ProtocolError) -> Int64? {
        switch value {
        case nil, .null?: return nil
        case .int(let milliseconds)? where coalesceRange.contains(milliseconds): return milliseconds
        default:
            throw ProtocolError(
                .invalidFrame, "\"coalesce\" must be milliseconds from \(coalesceRange.lowerBound) to \(coalesceRange.upperBound)")
        }
    }

    static let maxEpochBytes = 64

    /// A stream position `{"offset": N, "epoch": "..."}`, or nil when absent.
    static func position(_ value: JSONValue?, _ name: String) throws(ProtocolError) -> StreamPosition? {
        switch value {
        case nil, .null?:
            return nil
        case .object(let object)?:
            guard case .int(let offset)? = object["offset"], offset >= 0 else {
                throw ProtocolError(.invalidFrame, "\"\(name).offset\" must be a non-negative integer")
            }
            guard case .string(let epoch)? = object["epoch"], !epoch.isEmpty, epoch.utf8.count <= maxEpochBytes else {
                throw ProtocolError(.invalidFrame, "\"\(name).epoch\" must be a string of 1 to \(maxEpochBytes) bytes")
            }
            return StreamPosition(offset: UInt64(offset), epoch: epoch)
        default:
            throw ProtocolError(.invalidFrame, "\"\(name)\" must be an object {offset, epoch}")
        }
    }
}
