import ConcordCodec
import ConcordCore

/// `concord echo`: every message comes back as it came, on any path, to anyone. It runs the
/// production transport (handshake, decoder, fragmentation, UTF-8 checks, close handshake) against
/// a WebSocket conformance suite, with nothing of Concord's protocol in the way.
final class EchoApplication: WebSocketApplication {
    /// The conformance suite sends messages of up to 16 MiB.
    let maxMessageBytes = 64 << 20

    func admit(_ request: HTTPRequest) -> Admission { .admitted(.anonymous) }
    func opened(_ connection: Connection) {}

    func received(text: [UInt8], from connection: Connection) {
        connection.sendFrame(.text, text)
    }

    func received(binary: [UInt8], from connection: Connection) {
        connection.sendFrame(.binary, binary)
    }
}
