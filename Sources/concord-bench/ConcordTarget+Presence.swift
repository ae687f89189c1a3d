/// What the presence benchmark says to Concord: the presence commands and the replies it tells
/// apart by byte patterns, as the fan-out benchmark does for events.
extension ConcordTarget {
    static let enteredMarker = Array("\"op\":\"presence.entered\"".utf8)
    static let leftMarker = Array("\"op\":\"presence.left\"".utf8)
    static let snapshotMarker = Array("\"op\":\"presence.snapshot\"".utf8)
    /// Every presence push starts with exactly these bytes (the server writes `op` first).
    static let presenceEventPrefix = Array("{\"op\":\"presence.event\"".utf8)
    static let joinMarker = Array("\"action\":\"join\"".utf8)
    static let leaveMarker = Array("\"action\":\"leave\"".utf8)
    static let idKey = Array("\"id\":".utf8)

    /// The WebSocket path naming the user, which the server honours in development mode only.
    static func webSocketPath(user: String) -> String {
        "\(webSocketPath)?user=\(user)"
    }

    static func presenceEnter(id: Int, channel: String, info: String) -> [UInt8] {
        Array("{\"op\":\"presence.enter\",\"id\":\(id),\"channel\":\(jsonString(channel)),\"info\":\(info)}".utf8)
    }

    static func presenceLeave(id: Int, channel: String) -> [UInt8] {
        Array("{\"op\":\"presence.leave\",\"id\":\(id),\"channel\":\(jsonString(channel))}".utf8)
    }

    static func presenceSubscribe(id: Int, channel: String) -> [UInt8] {
        Array("{\"op\":\"presence.subscribe\",\"id\":\(id),\"channel\":\(jsonString(channel))}".utf8)
    }

    /// A typical member's info: a display name and an avatar URL, about 40 bytes.
    static func presenceInfo(user index: Int) -> String {
        "{\"name\":\"User \(index)\",\"avatar\":\"/a/\(index).png\"}"
    }
}
