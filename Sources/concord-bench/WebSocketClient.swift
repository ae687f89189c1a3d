import ConcordCodec
import ConcordUV

/// What a `WebSocketClient` tells its owner. All calls happen on the loop thread.
protocol WebSocketClientDelegate: AnyObject {
    /// The server accepted the upgrade; frames may follow at once.
    func webSocketDidOpen(_ client: WebSocketClient)
    /// A chunk of bytes was read; its messages follow. Every message in a chunk arrived at the same
    /// moment, so owners read the clock here once rather than once per message.
    func webSocketWillRead(_ client: WebSocketClient)
    func webSocket(_ client: WebSocketClient, didReceiveText message: [UInt8])
    /// The connection failed or the server closed it; nothing more will be called.
    func webSocket(_ client: WebSocketClient, didFail why: String)
}

extension WebSocketClientDelegate {
    /// Most servers speak first (Concord's `welcome`), so most owners wait for that instead.
    func webSocketDidOpen(_ client: WebSocketClient) {}
}

/// One client WebSocket on the generator's loop: connects, upgrades, answers pings, sends masked
/// text frames and hands every text message to its owner. Shared by every benchmark's connections.
final class WebSocketClient: TCPStreamDelegate {
    private unowned let delegate: any WebSocketClientDelegate
    private var stream: TCPStream?
    private var key = ""
    /// The upgrade response read so far; nil once the handshake is done.
    private var head: [UInt8]? = []
    private var decoder = WebSocketDecoder(role: .client, maxMessageBytes: 1 << 20)
    /// Set by `close()` or a failure: a connect still on its way is closed when it lands.
    private var finished = false

    init(delegate: any WebSocketClientDelegate) {
        self.delegate = delegate
    }

    /// Connects and sends the upgrade request for `path` (which may carry a query string).
    func start(loop: EventLoop, host: String, port: Int, path: String) {
        TCPStream.connect(loop: loop, host: host, port: port) { [self] result in
            switch result {
            case .failure(let error):
                fail("connect: \(error)")
            case .success(let stream) where finished:
                // The run ended while this connect was on its way.
                stream.close()
            case .success(let stream):
                self.stream = stream
                stream.delegate = self
                key = WebSocketHandshake.makeClientKey()
                stream.startReading()
                stream.send(SharedBytes(WebSocketHandshake.clientRequest(host: "\(host):\(port)", path: path, key: key)))
            }
        }
    }

    func sendText(_ payload: [UInt8]) {
        send(.text, payload)
    }

    /// Closes without telling the owner, which asked for it.
    func close() {
        finished = true
        stream?.close()
    }

    // MARK: TCPStreamDelegate

    func streamDidRead(_ stream: TCPStream, _ bytes: UnsafeRawBufferPointer) {
        delegate.webSocketWillRead(self)
        if head != nil {
            readHandshake(bytes)
        } else {
            decode(bytes)
        }
    }

    func streamDidEnd(_ stream: TCPStream, error: UVError) {
        fail("connection ended: \(error)")
    }

    func streamDidClose(_ stream: TCPStream) {
        self.stream = nil
    }

    // MARK: Reading

    private func readHandshake(_ bytes: UnsafeRawBufferPointer) {
        head!.append(contentsOf: bytes)
        let answer = head!.withUnsafeBytes { WebSocketHandshake.checkResponse($0, key: key) }
        switch answer {
        case .needMore:
            return
        case .rejected(let why):
            fail("upgrade rejected: \(why)")
        case .accepted(let consumed):
            let rest = Array(head![consumed...])
            head = nil
            delegate.webSocketDidOpen(self)
            guard !finished else { return }
            rest.withUnsafeBytes { decode($0) }
        }
    }

    private func decode(_ bytes: UnsafeRawBufferPointer) {
        let status = decoder.decode(bytes) { event in handle(event) }
        if case .failed(let code, let reason) = status { fail("bad frame from server (\(code)): \(reason)") }
    }

    private func handle(_ event: WebSocketEvent) {
        guard !finished else { return }
        switch event {
        case .text(let message):
            delegate.webSocket(self, didReceiveText: message)
        case .ping(let payload):
            send(.pong, payload)
        case .close(let code, let reason):
            fail("server closed the WebSocket: \(code.map(String.init) ?? "no code") \(reason)")
        case .binary, .pong:
            break
        }
    }

    /// Client frames must be masked (RFC 6455 section 5.3), with a fresh key each.
    private func send(_ opcode: WebSocketOpcode, _ payload: [UInt8]) {
        let frame = WebSocketFrameEncoder.encode(opcode: opcode, payload: payload, maskKey: UInt32.random(in: .min ... .max))
        stream?.send(SharedBytes(frame))
    }

    private func fail(_ why: String) {
        guard !finished else { return }
        finished = true
        stream?.close()
        delegate.webSocket(self, didFail: why)
    }
}
