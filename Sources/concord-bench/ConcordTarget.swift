/// Everything the fan-out benchmark says to Concord in particular: the WebSocket path, the subscribe
/// command, the replies it waits for and the publish request. nchan and the floor have a sibling,
/// `NchanTarget`, and `FanoutTarget` picks one per run; the connection and measuring code stays the same.
enum ConcordTarget {
    static let webSocketPath = "/v1/ws"

    /// Sub-strings that identify the server's frames without parsing JSON.
    static let welcomeMarker = Array("\"op\":\"welcome\"".utf8)
    static let subscribedMarker = Array("\"op\":\"subscribed\"".utf8)
    static let errorMarker = Array("\"op\":\"error\"".utf8)
    /// Every event push starts with exactly these bytes (the server writes `op` first).
    static let eventPrefix = Array("{\"op\":\"event\"".utf8)

    static func subscribeMessage(channel: String) -> [UInt8] {
        Array("{\"op\":\"subscribe\",\"sub\":\"b\",\"channel\":\(jsonString(channel))}".utf8)
    }

    /// `POST path` on a keep-alive connection with the bearer key and a JSON body.
    static func publishRequest(host: String, path: String, apiKey: String, body: [UInt8]) -> [UInt8] {
        var head = "POST \(path) HTTP/1.1\r\n"
        head += "Host: \(host)\r\n"
        head += "Authorization: Bearer \(apiKey)\r\n"
        head += "Content-Type: application/json\r\n"
        head += "Content-Length: \(body.count)\r\n"
        head += "\r\n"
        return Array(head.utf8) + body
    }

    /// The LiveEvent for sequence number `seq`, stamped with `sentAt` (monotonic ns) and padded.
    static func publishBody(channel: String, seq: Int, sentAt: UInt64, pad: Int) -> [UInt8] {
        var body = Array("{\"channel\":\(jsonString(channel)),\"type\":\"bench\",\"payload\":{\"seq\":\(seq),\"t\":\(sentAt),\"pad\":\"".utf8)
        body.append(contentsOf: repeatElement(UInt8(ascii: "x"), count: pad))
        body.append(contentsOf: "\"}}".utf8)
        return body
    }

    /// Pad length that makes a published body about `payloadBytes` long (the numbers' widths vary
    /// by a few bytes between events, which does not matter at this scale).
    static func padding(channel: String, events: Int, payloadBytes: Int) -> Int {
        let bare = publishBody(channel: channel, seq: events, sentAt: MonotonicClock.nanoseconds(), pad: 0)
        return max(0, payloadBytes - bare.count)
    }

    /// A JSON string literal; channel names are printable ASCII, so only quote and backslash matter.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for character in text {
            if character == "\"" || character == "\\" { out.append("\\") }
            out.append(character)
        }
        return out + "\""
    }
}
