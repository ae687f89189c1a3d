import ConcordCodec
import ConcordCore

/// What a server's WebSocket connections are for. The transport (`Connection`) parses HTTP, runs
/// the handshake, decodes frames, answers pings and closes; everything it does not know is asked
/// here. Concord's protocol v1 is `CommandRouter`; the conformance test server is `EchoApplication`.
protocol WebSocketApplication: AnyObject {
    /// The largest message a connection accepts (larger ones close it with 1009).
    var maxMessageBytes: Int { get }
    /// Whether an upgrade request may become a session, and as whom; a response refuses it.
    func admit(_ request: HTTPRequest) -> Admission
    /// The upgrade was answered: the session starts.
    func opened(_ connection: Connection)
    func received(text: [UInt8], from connection: Connection)
    func received(binary: [UInt8], from connection: Connection)
}

enum Admission {
    case admitted(Principal)
    case refused(HTTPResponse)
}
