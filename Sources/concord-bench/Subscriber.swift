import ConcordCodec
import ConcordUV

/// One WebSocket subscriber: upgrades, waits for `welcome`, subscribes, then checks and times every
/// event push it reads.
final class Subscriber: TCPStreamDelegate {
    enum Phase {
        case connecting, upgrading, awaitingWelcome, subscribing, ready, gone
    }

    unowned let pool: SubscriberPool
    private unowned let tracker: DeliveryTracker
    private var stream: TCPStream?
    private(set) var phase = Phase.connecting
    private var key = ""
    /// The upgrade response read so far; empty once the handshake is done.
    private var head: [UInt8] = []
    private var decoder = WebSocketDecoder(role: .client, maxMessageBytes: 1 << 20)
    /// The next seq this connection should receive; events arrive in offset order.
    private(set) var expected = 0
    /// Read once per chunk: every push in a chunk arrived at the same moment.
    private var readTime: UInt64 = 0

    init(pool: SubscriberPool, tracker: DeliveryTracker) {
        self.pool = pool
        self.tracker = tracker
    }

    func start(loop: EventLoop, host: String, port: Int) {
        TCPStream.connect(loop: loop, host: host, port: port) { [self] result in
            switch result {
            case .failure(let error):
                fail("connect: \(error)")
            case .success(let stream) where phase == .gone:
                // The run ended while this connect was on its way.
                stream.close()
            case .success(let stream):
                self.stream = stream
                stream.delegate = self
                key = WebSocketHandshake.makeClientKey()
                phase = .upgrading
                stream.startReading()
                stream.send(SharedBytes(WebSocketHandshake.clientRequest(
                    host: "\(host):\(port)", path: ConcordTarget.webSocketPath, key: key)))
            }
        }
    }

    func close() {
        phase = .gone
        stream?.close()
    }

    // MARK: TCPStreamDelegate

    func streamDidRead(_ stream: TCPStream, _ bytes: UnsafeRawBufferPointer) {
        readTime = MonotonicClock.nanoseconds()
        if phase == .ready { tracker.subscriberReads += 1 }
        if phase == .upgrading {
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
        head.append(contentsOf: bytes)
        let answer = head.withUnsafeBytes { WebSocketHandshake.checkResponse($0, key: key) }
        switch answer {
        case .needMore:
            return
        case .rejected(let why):
            fail("upgrade rejected: \(why)")
        case .accepted(let consumed):
            phase = .awaitingWelcome
            let rest = Array(head[consumed...])
            head = []
            rest.withUnsafeBytes { decode($0) }
        }
    }

    private func decode(_ bytes: UnsafeRawBufferPointer) {
        let status = decoder.decode(bytes) { event in handle(event) }
        if case .failed(let code, let reason) = status { fail("bad frame from server (\(code)): \(reason)") }
    }

    private func handle(_ event: WebSocketEvent) {
        switch event {
        case .text(let message):
            handleText(message)
        case .ping(let payload):
            send(.pong, payload)
        case .close(let code, let reason):
            fail("server closed the WebSocket: \(code.map(String.init) ?? "no code") \(reason)")
        case .binary, .pong:
            break
        }
    }

    private func handleText(_ message: [UInt8]) {
        switch phase {
        case .ready:
            if EventScanner.hasPrefix(message, ConcordTarget.eventPrefix), let (seq, sentAt) = EventScanner.scan(message) {
                receive(seq: seq, sentAt: sentAt)
            } else if EventScanner.contains(message, ConcordTarget.errorMarker) {
                tracker.errors.serverErrors += 1
            } else {
                tracker.errors.malformed += 1
            }
        case .awaitingWelcome where EventScanner.contains(message, ConcordTarget.welcomeMarker):
            phase = .subscribing
            send(.text, ConcordTarget.subscribeMessage(channel: pool.plan.channel))
        case .subscribing where EventScanner.contains(message, ConcordTarget.subscribedMarker):
            phase = .ready
            pool.subscriberReady(self)
        case .awaitingWelcome, .subscribing:
            fail("unexpected frame while subscribing: \(String(decoding: message.prefix(200), as: UTF8.self))")
        case .connecting, .upgrading, .gone:
            break
        }
    }

    /// Checks order against what this connection saw before, then records the delivery.
    @inline(__always)
    private func receive(seq: Int, sentAt: UInt64) {
        guard seq >= 0, seq < tracker.events else {
            tracker.errors.malformed += 1
            return
        }
        if seq < expected {
            tracker.errors.outOfOrder += 1
            return
        }
        if seq > expected { tracker.skipped(expected..<seq) }
        expected = seq + 1
        tracker.delivered(seq: seq, latencyNanoseconds: readTime &- sentAt)
    }

    /// Client frames must be masked (RFC 6455 section 5.3), with a fresh key each.
    private func send(_ opcode: WebSocketOpcode, _ payload: [UInt8]) {
        let frame = WebSocketFrameEncoder.encode(opcode: opcode, payload: payload, maskKey: UInt32.random(in: .min ... .max))
        stream?.send(SharedBytes(frame))
    }

    private func fail(_ why: String) {
        guard phase != .gone else { return }
        let wasReady = phase == .ready
        phase = .gone
        stream?.close()
        pool.subscriberFailed(self, why: why, wasReady: wasReady)
    }
}
