import ConcordUV

/// One WebSocket subscriber: waits for `welcome`, subscribes, then checks and times every event
/// push it reads.
final class Subscriber: WebSocketClientDelegate {
    /// Where the subscriber is in its setup.
    enum Phase {
        case awaitingWelcome, subscribing, ready, gone
    }

    unowned let pool: SubscriberPool
    private unowned let tracker: DeliveryTracker
    private var client: WebSocketClient?
    private(set) var phase = Phase.awaitingWelcome
    /// The next seq this connection should receive; events arrive in offset order.
    private(set) var expected = 0
    /// Read once per chunk: every push in a chunk arrived at the same moment.
    private var readTime: UInt64 = 0

    init(pool: SubscriberPool, tracker: DeliveryTracker) {
        self.pool = pool
        self.tracker = tracker
    }

    func start(loop: EventLoop, host: String, port: Int) {
        let client = WebSocketClient(delegate: self)
        self.client = client
        client.start(loop: loop, host: host, port: port, path: ConcordTarget.webSocketPath)
    }

    func close() {
        phase = .gone
        client?.close()
    }

    // MARK: WebSocketClientDelegate

    func webSocketWillRead(_ client: WebSocketClient) {
        readTime = MonotonicClock.nanoseconds()
        if phase == .ready { tracker.subscriberReads += 1 }
    }

    func webSocket(_ client: WebSocketClient, didReceiveText message: [UInt8]) {
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
            client.sendText(ConcordTarget.subscribeMessage(channel: pool.plan.channel))
        case .subscribing where EventScanner.contains(message, ConcordTarget.subscribedMarker):
            phase = .ready
            pool.subscriberReady(self)
        case .awaitingWelcome, .subscribing:
            fail("unexpected frame while subscribing: \(String(decoding: message.prefix(200), as: UTF8.self))")
        case .gone:
            break
        }
    }

    func webSocket(_ client: WebSocketClient, didFail why: String) {
        fail(why)
    }

    // MARK: Deliveries

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

    private func fail(_ why: String) {
        guard phase != .gone else { return }
        let wasReady = phase == .ready
        phase = .gone
        client?.close()
        pool.subscriberFailed(self, why: why, wasReady: wasReady)
    }
}
