import ConcordCodec
import ConcordCore
import ConcordUV

/// One client connection: HTTP/1.1 until it upgrades, then a WebSocket session. Owned by the loop.
final class Connection: Hashable, TCPStreamDelegate {
    enum Phase {
        case http
        case webSocket
        /// A Server-Sent Events stream (`GET /v1/sse`): the response never ends; input is ignored.
        case eventStream
        /// A close frame was sent or the connection is being dropped; input is ignored.
        case closing
    }

    unowned let server: ConcordServer
    let stream: TCPStream
    let number: UInt64
    /// The protocol session this connection carries: who it is, its subscriptions, limits and
    /// buckets. Backends name it by `session.id`.
    var session: Session
    var phase = Phase.http
    /// Only while speaking HTTP; released on upgrade so an idle WebSocket holds no parser.
    var httpParser: HTTPRequestParser?
    var decoder: WebSocketDecoder?
    /// The client's address, for the per-address connection limit.
    let address: String
    /// `--max-queue-bytes`, kept here for the delivery path.
    let maxQueueBytes: Int
    /// Loop time by which the HTTP request being read must be complete: the first one counted from
    /// the connection, each next one on a keep-alive connection from the previous response. Nil
    /// while a response is being prepared, and after the upgrade.
    var requestDeadline: Int64?
    /// Set once the upgrade succeeded, so the close path knows which gauge to move.
    var isWebSocket = false
    /// The socket ended mid-session, without a close frame: its presence lingers until the idle deadline.
    var vanished = false
    /// Loop time of the last byte read: the liveness signal the idle sweep checks.
    var lastActivity: Int64
    var closingSince: Int64 = 0
    /// HTTP only: a response is being prepared (a commit waits for durability) and input waits.
    private var awaitingResponse = false
    private var bufferedInput: [UInt8] = []

    init(server: ConcordServer, stream: TCPStream, number: UInt64, address: String) {
        self.server = server
        self.stream = stream
        self.number = number
        self.address = address
        session = Session(id: SessionID(number), maxSubscriptions: server.configuration.maxSubscriptions)
        maxQueueBytes = server.configuration.maxQueueBytes
        lastActivity = server.ticks
        requestDeadline = server.ticks + Int64(server.configuration.handshakeTimeoutMilliseconds)
        httpParser = HTTPRequestParser(
            maxHeaderBytes: server.configuration.maxHeaderBytes,
            maxBodyBytes: server.configuration.maxBodyBytes,
            maxHeaderCount: server.configuration.maxHeaderCount)
    }

    static func == (a: Connection, b: Connection) -> Bool { a === b }
    func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }

    // MARK: TCPStreamDelegate

    func streamDidRead(_ stream: TCPStream, _ bytes: UnsafeRawBufferPointer) {
        lastActivity = server.ticks
        switch phase {
        case .http: readHTTP(bytes)
        case .webSocket: readWebSocket(bytes)
        case .eventStream, .closing: break
        }
    }

    func streamDidEnd(_ stream: TCPStream, error: UVError) {
        // The socket ended without a close handshake: perhaps a client about to reconnect.
        if phase == .webSocket || phase == .eventStream { vanished = true }
        stream.close()
    }

    func streamDidClose(_ stream: TCPStream) {
        server.connectionClosed(self)
    }

    // MARK: HTTP

    private func readHTTP(_ bytes: UnsafeRawBufferPointer) {
        // Responses go out in request order: while one is pending, later bytes wait.
        if awaitingResponse {
            bufferedInput.append(contentsOf: bytes)
            if bufferedInput.count > server.configuration.maxHeaderBytes + server.configuration.maxBodyBytes { stream.close() }
            return
        }
        var rest = bytes
        while !rest.isEmpty, phase == .http, let parser = httpParser {
            switch parser.feed(rest) {
            case .needMore:
                return
            case .request(let request, let consumed):
                requestDeadline = nil
                rest = UnsafeRawBufferPointer(rebasing: rest[consumed...])
                if request.isUpgrade {
                    upgrade(request, leftover: rest)
                    return
                }
                server.metrics.httpRequests.increment()
                // A stream that never ends (Server-Sent Events) takes the connection over.
                if let open = server.router.stream(for: request) {
                    if let refusal = open(request, self) { write(refusal, keepAlive: false) }
                    return
                }
                awaitingResponse = true
                server.router.respond(to: request) { [weak self] response in self?.answered(response, keepAlive: request.keepAlive) }
                if awaitingResponse {
                    bufferedInput.append(contentsOf: rest)
                    return
                }
            case .error(let error):
                server.metrics.httpRequests.increment()
                switch error {
                case .headersTooLarge: server.metrics.hit(.headerBytes)
                case .tooManyHeaders: server.metrics.hit(.headerCount)
                case .bodyTooLarge: server.metrics.hit(.bodyBytes)
                case .malformed: break
                }
                write(Self.response(for: error), keepAlive: false)
                return
            }
        }
    }

    private func answered(_ response: HTTPResponse, keepAlive: Bool) {
        guard phase == .http, awaitingResponse else { return }
        awaitingResponse = false
        write(response, keepAlive: keepAlive)
        if keepAlive {
            // Every request has a deadline, not only the first: a keep-alive connection that
            // trickles its next request (or sends none) is closed like a slow first one.
            let deadline = server.ticks + Int64(server.configuration.handshakeTimeoutMilliseconds)
            requestDeadline = deadline
            server.scheduleLivenessCheck(self, at: deadline)
        }
        // An asynchronous answer resumes whatever the client sent meanwhile.
        if !bufferedInput.isEmpty, phase == .http {
            let waiting = bufferedInput
            bufferedInput = []
            waiting.withUnsafeBytes { readHTTP($0) }
        }
    }

    static func response(for error: HTTPParseError) -> HTTPResponse {
        switch error {
        case .headersTooLarge:
            return .error(431, ProtocolError(.headersTooLarge, "request line and headers are over the limit"))
        case .tooManyHeaders:
            return .error(431, ProtocolError(.headersTooLarge, "the request has more header fields than the limit"))
        case .bodyTooLarge:
            return .error(413, ProtocolError(.payloadTooLarge, "request body is over the limit"))
        case .malformed(let why):
            return .error(400, ProtocolError(.badRequest, "malformed HTTP request: \(why)"))
        }
    }

    func write(_ response: HTTPResponse, keepAlive: Bool) {
        stream.send(SharedBytes(response.serialized(keepAlive: keepAlive)))
        if !keepAlive { beginClosing() }
    }

    private func upgrade(_ request: HTTPRequest, leftover: UnsafeRawBufferPointer) {
        server.metrics.httpRequests.increment()
        let principal: Principal
        switch server.application.admit(request) {
        case .refused(let refusal):
            write(refusal, keepAlive: false)
            return
        case .admitted(let admitted):
            principal = admitted
        }
        switch WebSocketHandshake.validate(request) {
        case .failure(let error):
            write(
                .error(
                    error.status, ProtocolError(.badRequest, "bad WebSocket handshake: \(error.message)"),
                    headers: error.responseHeaders.map { ($0.name, $0.value) }), keepAlive: false)
        case .success(let accept):
            httpParser = nil
            phase = .webSocket
            decoder = WebSocketDecoder(role: .server, maxMessageBytes: server.application.maxMessageBytes)
            stream.send(SharedBytes(WebSocketHandshake.response(accept: accept)))
            session.principal = principal
            server.webSocketOpened(self)
            if !leftover.isEmpty { readWebSocket(leftover) }
        }
    }

    // MARK: WebSocket

    private func readWebSocket(_ bytes: UnsafeRawBufferPointer) {
        guard var decoder else { return }
        self.decoder = nil
        let status = decoder.decode(bytes) { event in self.handle(event) }
        self.decoder = decoder
        if case .failed(let code, let reason) = status, phase == .webSocket {
            server.metrics.protocolErrors.increment()
            if code == 1009 { server.metrics.hit(.messageBytes) }
            sendClose(code: code, reason: reason)
        }
    }

    private func handle(_ event: WebSocketEvent) {
        guard phase == .webSocket else { return }
        switch event {
        case .text(let payload):
            server.metrics.messagesIn.increment()
            server.application.received(text: payload, from: self)
        case .binary(let payload):
            server.metrics.messagesIn.increment()
            server.application.received(binary: payload, from: self)
        case .ping(let payload):
            sendFrame(.pong, payload)
        case .pong:
            break
        case .close(let code, _):
            // Echo the peer's code, then close the TCP connection: the server closes first (RFC 6455 7.1.1).
            let payload = code.map { WebSocketFrameEncoder.closePayload(code: $0, reason: "") } ?? []
            sendFrame(.close, payload)
            beginClosing()
        }
    }

    func sendFrame(_ opcode: WebSocketOpcode, _ payload: [UInt8]) {
        stream.send(Self.frame(opcode, payload))
    }

    /// A whole unmasked frame in one shared buffer, header and payload together.
    static func frame(_ opcode: WebSocketOpcode, _ payload: [UInt8]) -> SharedBytes {
        let header = WebSocketFrameEncoder.headerSize(payloadCount: payload.count, masked: false)
        return SharedBytes(count: header + payload.count) { out in
            _ = WebSocketFrameEncoder.writeHeader(opcode: opcode, payloadCount: payload.count, fin: true, maskKey: nil, into: out)
            payload.withUnsafeBytes { src in
                if !src.isEmpty { (out.baseAddress! + header).copyMemory(from: src.baseAddress!, byteCount: src.count) }
            }
        }
    }

    func sendText(_ payload: [UInt8]) {
        server.metrics.messagesOut.increment()
        sendFrame(.text, payload)
    }

    /// Starts the close handshake; the TCP connection closes once the close frame is written, or
    /// after `graceMilliseconds` if the peer does not read it.
    func sendClose(code: UInt16, reason: String, graceMilliseconds: UInt64 = 2_000) {
        guard phase != .closing else { return }
        sendFrame(.close, WebSocketFrameEncoder.closePayload(code: code, reason: reason))
        beginClosing(graceMilliseconds: graceMilliseconds)
    }

    /// Delivers a shared frame unless the connection is too far behind, which closes it with 4008
    /// (an event stream, which has no close frame, is closed).
    func deliver(_ frame: SharedBytes) -> Bool {
        guard phase == .webSocket || phase == .eventStream else { return false }
        // The hot path reads the bound from this object, not through `server` (an unowned reference
        // costs a retain and a release on every access).
        if stream.queuedBytes + frame.count > maxQueueBytes { stream.flushNow() }
        if stream.queuedBytes + frame.count > maxQueueBytes {
            server.metrics.slowConsumers.increment()
            server.metrics.hit(.queueBytes)
            // What was not yet handed to the kernel is dropped and the close frame takes its place.
            // It reaches the reader after what the kernel already holds, so a reader that paused
            // learns why once it reads again: the close waits for it up to the idle timeout.
            stream.discardQueued()
            if phase == .eventStream {
                beginClosing()
                return false
            }
            sendClose(
                code: 4008, reason: "outbound queue over \(maxQueueBytes) bytes",
                graceMilliseconds: server.configuration.idleTimeoutMilliseconds)
            return false
        }
        stream.send(frame)
        return true
    }

    /// The connection as the liveness rules see it.
    var livenessPhase: Liveness.Phase {
        switch phase {
        case .http: return .http(requestDeadline: requestDeadline)
        case .webSocket: return .webSocket
        case .eventStream: return .eventStream
        case .closing: return .closing
        }
    }

    /// Takes the connection over for a Server-Sent Events stream, once its response head is written.
    func startEventStream(principal: Principal) {
        httpParser = nil
        bufferedInput = []
        phase = .eventStream
        session.principal = principal
    }

    func beginClosing(graceMilliseconds: UInt64 = 2_000) {
        phase = .closing
        closingSince = server.ticks
        server.closingStarted(self, graceMilliseconds: graceMilliseconds)
        stream.closeAfterFlush()
    }
}
