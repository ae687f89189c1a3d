import ConcordUV

/// One WebSocket subscriber: subscribes the way its server wants (Concord: wait for `welcome`, send
/// `subscribe`, wait for `subscribed`; nchan: the upgrade is the subscription), then checks and
/// times every event push it reads.
final class Subscriber: WebSocketClientDelegate {
    /// Where the subscriber is in its setup.
    enum Phase {
        case connecting, awaitingWelcome, subscribing, ready, gone
    }

    unowned let pool: SubscriberPool
    private unowned let tracker: DeliveryTracker
    private let target: FanoutTarget
    /// The channel's index and name; its events are seq = channel, channel + channels, ...
    let channel: Int
    private let channelName: String
    /// The node it is connected to, an index into the plan's `nodePorts`.
    let node: Int
    /// In-order deliveries read.
    private(set) var received = 0
    private let stride: Int
    private var client: WebSocketClient?
    private(set) var phase = Phase.connecting
    /// The next seq this connection should receive; events arrive in offset order.
    private(set) var expected: Int
    /// Read once per chunk: every push in a chunk arrived at the same moment.
    private var readTime: UInt64 = 0

    init(pool: SubscriberPool, tracker: DeliveryTracker, channel: Int, channelName: String, node: Int = 0) {
        self.pool = pool
        self.node = node
        self.tracker = tracker
        self.channel = channel
        self.channelName = channelName
        target = pool.plan.target
        stride = pool.plan.channels
        expected = channel
    }

    func start(loop: EventLoop, host: String, port: Int) {
        let client = WebSocketClient(delegate: self)
        self.client = client
        client.start(loop: loop, host: host, port: port, path: target.webSocketPath(channel: channelName))
    }

    func close() {
        phase = .gone
        client?.close()
    }

    // MARK: WebSocketClientDelegate

    func webSocketDidOpen(_ client: WebSocketClient) {
        guard phase == .connecting else { return }
        if target.welcomeMarker != nil {
            phase = .awaitingWelcome
        } else if target.subscribedMarker != nil {
            subscribe(client)
        } else {
            becomeReady()
        }
    }

    func webSocketWillRead(_ client: WebSocketClient) {
        readTime = MonotonicClock.nanoseconds()
        if phase == .ready { tracker.subscriberReads += 1 }
    }

    func webSocket(_ client: WebSocketClient, didReceiveText message: [UInt8]) {
        switch phase {
        case .ready:
            if EventScanner.hasPrefix(message, target.eventPrefix),
                let (seq, sentAt) = EventScanner.scan(message, from: target.eventPrefix.count)
            {
                receive(seq: seq, sentAt: sentAt, bytes: message.count)
            } else if let marker = target.errorMarker, EventScanner.contains(message, marker) {
                tracker.errors.serverErrors += 1
            } else {
                tracker.errors.malformed += 1
            }
        case .awaitingWelcome where EventScanner.contains(message, target.welcomeMarker!):
            subscribe(client)
        case .subscribing where EventScanner.contains(message, target.subscribedMarker!):
            becomeReady()
        case .connecting, .awaitingWelcome, .subscribing:
            fail("unexpected frame while subscribing: \(String(decoding: message.prefix(200), as: UTF8.self))")
        case .gone:
            break
        }
    }

    func webSocket(_ client: WebSocketClient, didFail why: String) {
        fail(why)
    }

    private func subscribe(_ client: WebSocketClient) {
        phase = .subscribing
        client.sendText(target.subscribeMessage(channel: channelName))
    }

    private func becomeReady() {
        phase = .ready
        pool.subscriberReady(self)
    }

    // MARK: Deliveries

    /// Checks order against what this connection saw before, then records the delivery.
    @inline(__always)
    private func receive(seq: Int, sentAt: UInt64, bytes: Int) {
        guard seq >= 0, seq < tracker.events, seq % stride == channel else {
            tracker.errors.malformed += 1
            return
        }
        if seq < expected {
            tracker.errors.outOfOrder += 1
            return
        }
        if seq > expected { tracker.skipped(Swift.stride(from: expected, to: seq, by: stride)) }
        expected = seq + stride
        received += 1
        tracker.delivered(seq: seq, bytes: bytes, latencyNanoseconds: readTime &- sentAt)
    }

    private func fail(_ why: String) {
        guard phase != .gone else { return }
        let wasReady = phase == .ready
        phase = .gone
        client?.close()
        pool.subscriberFailed(self, why: why, wasReady: wasReady)
    }
}
