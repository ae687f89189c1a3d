/// What the presence benchmark sends and expects in one of its two modes: presence (enter, leave,
/// watch presence) or typing (start, stop, watch typing), so the same run measures a typing storm.
/// A typing signal with an `id` is answered with `typing.ok`, and each start after a stop (and each
/// stop) pushes one `typing.event` to the watchers, as each presence join and leave pushes one.
struct PresenceCommands {
    let typing: Bool
    /// Replies to an enter (start) and to a leave (stop).
    let enteredMarker: [UInt8]
    let leftMarker: [UInt8]
    let snapshotMarker: [UInt8]
    let eventPrefix: [UInt8]
    /// Marks a push for an enter (join, started), as opposed to a leave.
    let joinMarker: [UInt8]

    init(typing: Bool) {
        self.typing = typing
        if typing {
            enteredMarker = ConcordTarget.typingOKMarker
            leftMarker = ConcordTarget.typingOKMarker
            snapshotMarker = ConcordTarget.typingSnapshotMarker
            eventPrefix = ConcordTarget.typingEventPrefix
            joinMarker = ConcordTarget.startedMarker
        } else {
            enteredMarker = ConcordTarget.enteredMarker
            leftMarker = ConcordTarget.leftMarker
            snapshotMarker = ConcordTarget.snapshotMarker
            eventPrefix = ConcordTarget.presenceEventPrefix
            joinMarker = ConcordTarget.joinMarker
        }
    }

    func enter(id: Int, channel: String, info: String) -> [UInt8] {
        typing ? ConcordTarget.typing("start", id: id, channel: channel) : ConcordTarget.presenceEnter(id: id, channel: channel, info: info)
    }

    func leave(id: Int, channel: String) -> [UInt8] {
        typing ? ConcordTarget.typing("stop", id: id, channel: channel) : ConcordTarget.presenceLeave(id: id, channel: channel)
    }

    func subscribe(id: Int, channel: String) -> [UInt8] {
        typing
            ? Array("{\"op\":\"typing.subscribe\",\"id\":\(id),\"channel\":\(ConcordTarget.jsonString(channel))}".utf8)
            : ConcordTarget.presenceSubscribe(id: id, channel: channel)
    }
}

extension ConcordTarget {
    static let typingOKMarker = Array("\"op\":\"typing.ok\"".utf8)
    static let typingSnapshotMarker = Array("\"op\":\"typing.snapshot\"".utf8)
    /// Every typing push starts with exactly these bytes (the server writes `op` first).
    static let typingEventPrefix = Array("{\"op\":\"typing.event\"".utf8)
    static let startedMarker = Array("\"action\":\"started\"".utf8)

    /// `typing.start` or `typing.stop` with an id, so the server answers it.
    static func typing(_ verb: String, id: Int, channel: String) -> [UInt8] {
        Array("{\"op\":\"typing.\(verb)\",\"id\":\(id),\"channel\":\(jsonString(channel))}".utf8)
    }
}
