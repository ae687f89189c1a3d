/// What the fan-out benchmark says to nginx + nchan (`bench/nchan.conf`), and to the libuv floor
/// (`bench/floor.c`), which answers on the same paths: the sibling of `ConcordTarget`.
enum NchanTarget {
    /// The published body is delivered as it is, and it is the JSON object `ConcordTarget.publishBody` makes.
    static let eventPrefix = Array("{\"channel\"".utf8)

    /// The floor treats any message as a subscribe and answers with this frame; nchan needs neither.
    static let floorSubscribeMessage = Array("{\"op\":\"subscribe\"}".utf8)
    static let floorSubscribedMarker = Array("\"op\":\"subscribed\"".utf8)

    /// nchan's subscriber location: `location ~ /sub/(\w+)$`.
    static func subscribePath(channel: String) -> String { "/sub/\(channel)" }

    /// `POST /pub/CHANNEL` on a keep-alive connection; nchan stores the Content-Type with the message.
    static func publishRequest(host: String, channel: String, body: [UInt8]) -> [UInt8] {
        var head = "POST /pub/\(channel) HTTP/1.1\r\n"
        head += "Host: \(host)\r\n"
        head += "Content-Type: application/json\r\n"
        head += "Content-Length: \(body.count)\r\n"
        head += "\r\n"
        return Array(head.utf8) + body
    }
}
