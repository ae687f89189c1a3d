/// Builds the JSON text of every frame the server sends, once per frame.
public enum ServerFrame {
    public static func welcome(
        epoch: String, session: String, user: String?, expiresAt: Timestamp? = nil, maxMessageBytes: Int, maxSubscriptions: Int, typingTTLMilliseconds: UInt64
    ) -> [UInt8] {
        var w = JSONWriter()
        w.raw("{\"op\":\"welcome\",\"v\":1")
        w.key("epoch"); w.string(epoch)
        w.key("session"); w.string(session)
        w.key("user"); if let user { w.string(user) } else { w.raw("null") }
        w.key("expiresAt"); if let expiresAt { w.int(expiresAt.milliseconds) } else { w.raw("null") }
        w.key("limits")
        w.raw("{\"maxMessageBytes\":"); w.int(Int64(maxMessageBytes))
        w.raw(",\"maxSubscriptions\":"); w.int(Int64(maxSubscriptions))
        w.raw(",\"typingTtlMs\":"); w.int(Int64(typingTTLMilliseconds))
        w.raw("}}")
        return w.bytes
    }

    /// The reply to `subscribe`; with `since`, `recovered` says whether the missed events follow
    /// (`replayed` of them, each an `event` push naming this `sub`), and when not, why.
    public static func subscribed(
        id: JSONValue?, sub: JSONValue, channel: String, position: StreamPosition, recovery: Recovery? = nil, replayed: Int? = nil
    ) -> [UInt8] {
        var w = reply("subscribed", id: id)
        w.key("sub"); w.value(sub)
        w.key("channel"); w.string(channel)
        w.key("offset"); w.int(Int64(position.offset))
        w.key("epoch"); w.string(position.epoch)
        switch recovery {
        case nil:
            break
        case .recovered(let events)?:
            w.raw(",\"recovered\":true")
            w.key("replayed"); w.int(Int64(replayed ?? events.count))
        case .failed(let failure)?:
            w.raw(",\"recovered\":false")
            w.key("reason"); w.string(failure.rawValue)
        }
        w.raw("}")
        return w.bytes
    }

    // MARK: Server-Sent Events

    /// One event of a Server-Sent Events stream: its `id` is its stream position (`EPOCH:OFFSET`,
    /// which the browser sends back as Last-Event-ID when it reconnects) and its data the LiveEvent.
    public static func sseEvent(_ body: [String: JSONValue], position: StreamPosition) -> [UInt8] {
        var w = JSONWriter(reservingCapacity: 512)
        w.raw("id: "); w.rawBytes(sseID(position)); w.raw("\ndata: ")
        w.value(.object(body))
        w.raw("\n\n")
        return w.bytes
    }

    /// An event stream's position alone: the browser keeps it as the last event id, dispatches nothing.
    public static func ssePosition(_ position: StreamPosition) -> [UInt8] {
        Array("id: ".utf8) + sseID(position) + Array("\n\n".utf8)
    }

    static func sseID(_ position: StreamPosition) -> [UInt8] {
        Array("\(position.epoch):\(position.offset)".utf8)
    }

    /// A position as `ssePosition` writes it, read back from Last-Event-ID; nil when it is not one.
    public static func ssePosition(parsing text: String) -> StreamPosition? {
        guard let colon = text.lastIndex(of: ":"), let offset = UInt64(text[text.index(after: colon)...]) else { return nil }
        let epoch = String(text[..<colon])
        guard !epoch.isEmpty, epoch.utf8.count <= ClientCommand.maxEpochBytes else { return nil }
        return StreamPosition(offset: offset, epoch: epoch)
    }

    /// Sent before a close with 4012 when the server shuts down: when to come back.
    public static func reconnect(afterMilliseconds: Int64) -> [UInt8] {
        var w = JSONWriter()
        w.raw("{\"op\":\"reconnect\"")
        w.key("afterMs"); w.int(afterMilliseconds)
        w.raw("}")
        return w.bytes
    }

    /// A replayed event for one subscription: the stored `event` push with `"sub"` added after `op`.
    public static func replayed(_ frame: [UInt8], sub: JSONValue) -> [UInt8] {
        precondition(frame.starts(with: eventPrefix), "not an event frame")
        var w = JSONWriter(reservingCapacity: frame.count + 32)
        w.rawBytes(eventPrefix)
        w.key("sub"); w.value(sub)
        w.rawBytes(frame[eventPrefix.count...])
        return w.bytes
    }

    /// How every `event` frame begins.
    public static let eventPrefix = Array(#"{"op":"event""#.utf8)

    public static func unsubscribed(id: JSONValue?, sub: JSONValue) -> [UInt8] {
        var w = reply("unsubscribed", id: id)
        w.key("sub"); w.value(sub)
        w.raw("}")
        return w.bytes
    }

    public static func published(id: JSONValue?, channel: String, offset: UInt64) -> [UInt8] {
        var w = reply("published", id: id)
        w.key("channel"); w.string(channel)
        w.key("offset"); w.int(Int64(offset))
        w.raw("}")
        return w.bytes
    }

    /// Pushed before the connection's token expires: send `auth` with a fresh one in time.
    public static func tokenExpiring(expiresAt: Timestamp) -> [UInt8] {
        var w = JSONWriter()
        w.raw("{\"op\":\"token.expiring\"")
        w.key("expiresAt"); w.int(expiresAt.milliseconds)
        w.raw("}")
        return w.bytes
    }

    public static func authed(id: JSONValue?, user: String?, expiresAt: Timestamp?) -> [UInt8] {
        var w = reply("authed", id: id)
        w.key("user"); if let user { w.string(user) } else { w.raw("null") }
        w.key("expiresAt"); if let expiresAt { w.int(expiresAt.milliseconds) } else { w.raw("null") }
        w.raw("}")
        return w.bytes
    }

    public static func pong(id: JSONValue?) -> [UInt8] {
        var w = reply("pong", id: id)
        w.raw("}")
        return w.bytes
    }

    public static func error(id: JSONValue?, _ error: ProtocolError) -> [UInt8] {
        var w = reply("error", id: id)
        w.key("code"); w.string(error.code.rawValue)
        w.key("message"); w.string(error.message)
        w.raw("}")
        return w.bytes
    }

    /// The push every admitted subscriber receives; built once per published event.
    public static func event(_ event: LiveEvent, offset: UInt64) -> [UInt8] {
        var w = JSONWriter(reservingCapacity: 512)
        w.raw("{\"op\":\"event\"")
        w.key("channel"); w.string(event.channel)
        w.key("offset"); w.int(Int64(offset))
        w.key("event"); w.value(.object(event.body))
        w.raw("}")
        return w.bytes
    }

    /// The `event` push around its offset, for a publisher that learns the offset only where the
    /// event is numbered (a Redis script): `head + String(offset) + tail` is `event(_:offset:)`.
    public static func eventParts(_ event: LiveEvent) -> (head: [UInt8], tail: [UInt8]) {
        var head = JSONWriter(reservingCapacity: 64)
        head.raw("{\"op\":\"event\"")
        head.key("channel"); head.string(event.channel)
        head.key("offset")
        var tail = JSONWriter(reservingCapacity: 512)
        tail.key("event"); tail.value(.object(event.body))
        tail.raw("}")
        return (head.bytes, tail.bytes)
    }

    private static func reply(_ op: StaticString, id: JSONValue?) -> JSONWriter {
        var w = JSONWriter()
        w.raw("{\"op\":\""); w.raw(op); w.raw("\"")
        if let id { w.key("id"); w.value(id) }
        return w
    }
}
