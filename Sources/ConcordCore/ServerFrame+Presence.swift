/// The frames of the presence and typing families.
extension ServerFrame {
    /// A reply that names only its channel: `presence.entered`, `presence.left`, `typing.unsubscribed`...
    public static func channelReply(_ op: StaticString, id: JSONValue?, channel: String) -> [UInt8] {
        var w = JSONWriter()
        w.raw("{\"op\":\""); w.raw(op); w.raw("\"")
        if let id { w.key("id"); w.value(id) }
        w.key("channel"); w.string(channel)
        w.raw("}")
        return w.bytes
    }

    public static func typingOK(id: JSONValue) -> [UInt8] {
        var w = JSONWriter()
        w.raw("{\"op\":\"typing.ok\"")
        w.key("id"); w.value(id)
        w.raw("}")
        return w.bytes
    }

    public static func presenceSnapshot(id: JSONValue?, channel: String, members: [PresenceMember], total: Int) -> [UInt8] {
        var w = JSONWriter(reservingCapacity: 128 + 64 * members.count)
        w.raw("{\"op\":\"presence.snapshot\"")
        if let id { w.key("id"); w.value(id) }
        w.key("channel"); w.string(channel)
        w.key("total"); w.int(Int64(total))
        w.key("members"); writeMembers(members, into: &w)
        w.raw("}")
        return w.bytes
    }

    public static func presenceEvent(_ change: PresenceChange) -> [UInt8] {
        let (action, member): (StaticString, PresenceMember)
        switch change {
        case .join(_, let m): (action, member) = ("join", m)
        case .update(_, let m): (action, member) = ("update", m)
        case .leave(_, var m):
            m.connections = 0
            (action, member) = ("leave", m)
        }
        var w = JSONWriter()
        w.raw("{\"op\":\"presence.event\"")
        w.key("channel"); w.string(change.channel)
        w.key("action"); w.raw("\""); w.raw(action); w.raw("\"")
        w.key("member"); writeMember(member, into: &w)
        w.raw("}")
        return w.bytes
    }

    public static func writeMembers(_ members: [PresenceMember], into w: inout JSONWriter) {
        w.raw("[")
        for (i, member) in members.enumerated() {
            if i > 0 { w.raw(",") }
            writeMember(member, into: &w)
        }
        w.raw("]")
    }

    static func writeMember(_ member: PresenceMember, into w: inout JSONWriter) {
        w.raw("{\"user\":"); w.string(member.user)
        w.raw(",\"info\":"); w.value(member.info)
        w.raw(",\"connections\":"); w.int(Int64(member.connections))
        w.raw("}")
    }

    public static func typingSnapshot(id: JSONValue?, channel: String, typing: [TypingRegistry.Typist]) -> [UInt8] {
        var w = JSONWriter()
        w.raw("{\"op\":\"typing.snapshot\"")
        if let id { w.key("id"); w.value(id) }
        w.key("channel"); w.string(channel)
        w.key("typing"); w.raw("[")
        for (i, typist) in typing.enumerated() {
            if i > 0 { w.raw(",") }
            writeTypist(typist, into: &w)
        }
        w.raw("]}")
        return w.bytes
    }

    public static func typingEvent(_ change: TypingRegistry.Change) -> [UInt8] {
        let (action, channel, typist): (StaticString, String, TypingRegistry.Typist)
        switch change {
        case .started(let c, let t): (action, channel, typist) = ("started", c, t)
        case .stopped(let c, let t): (action, channel, typist) = ("stopped", c, t)
        }
        var w = JSONWriter()
        w.raw("{\"op\":\"typing.event\"")
        w.key("channel"); w.string(channel)
        w.key("action"); w.raw("\""); w.raw(action); w.raw("\"")
        w.key("typist"); writeTypist(typist, into: &w)
        w.raw("}")
        return w.bytes
    }

    static func writeTypist(_ typist: TypingRegistry.Typist, into w: inout JSONWriter) {
        w.raw("{\"user\":"); w.string(typist.user)
        w.raw(",\"name\":"); if let name = typist.name { w.string(name) } else { w.raw("null") }
        w.raw(",\"scope\":"); if let scope = typist.scope { w.string(scope) } else { w.raw("null") }
        w.raw("}")
    }
}
