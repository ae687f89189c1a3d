import ConcordUV

/// Publishes the events over one keep-alive HTTP/1.1 connection, pipelining requests: how a
/// backend would push into the server, and one connection so its cost is the same for every peer.
final class Publisher: TCPStreamDelegate {
    private let plan: FanoutPlan
    private unowned let tracker: DeliveryTracker
    private var stream: TCPStream?
    private var reader = HTTPResponseReader()
    private let pad: Int
    private(set) var nextSeq = 0
    private(set) var acknowledged = 0
    private var closed = false
    /// Called if the connection breaks or a publish is refused: nothing more can be published.
    var onBroken: ((String) -> Void)?

    init(plan: FanoutPlan, tracker: DeliveryTracker) {
        self.plan = plan
        self.tracker = tracker
        pad = ConcordTarget.padding(channel: plan.channel, events: plan.events, payloadBytes: plan.payloadBytes)
    }

    func connect(loop: EventLoop, _ completion: @escaping (String?) -> Void) {
        TCPStream.connect(loop: loop, host: plan.host, port: plan.port) { [self] result in
            switch result {
            case .failure(let error):
                completion("publisher cannot connect: \(error)")
            case .success(let stream) where closed:
                // The run ended while this connect was on its way.
                stream.close()
            case .success(let stream):
                self.stream = stream
                stream.delegate = self
                stream.startReading()
                completion(nil)
            }
        }
    }

    var hasMore: Bool { nextSeq < plan.events }

    /// Sends the next event, stamped with the time now; written with the rest of this loop turn.
    func publishNext() {
        guard hasMore, let stream else { return }
        let body = ConcordTarget.publishBody(
            channel: plan.channel, seq: nextSeq, sentAt: MonotonicClock.nanoseconds(), pad: pad)
        let request = ConcordTarget.publishRequest(
            host: "\(plan.host):\(plan.port)", path: plan.publishPath, apiKey: plan.apiKey, body: body)
        stream.send(SharedBytes(request))
        nextSeq += 1
        tracker.published()
    }

    func close() {
        closed = true
        let stream = self.stream
        self.stream = nil
        stream?.close()
    }

    // MARK: TCPStreamDelegate

    func streamDidRead(_ stream: TCPStream, _ bytes: UnsafeRawBufferPointer) {
        var refused: String?
        let problem = reader.feed(bytes) { status, body in
            acknowledged += 1
            guard status != 200 else { return }
            tracker.errors.publishFailures += 1
            if refused == nil { refused = "publish answered HTTP \(status): \(String(decoding: body.prefix(200), as: UTF8.self))" }
        }
        // A refused publish is never delivered, and means the run is misconfigured: stop at once.
        if let why = problem ?? refused { broken(why) }
    }

    func streamDidEnd(_ stream: TCPStream, error: UVError) {
        broken("publish connection ended: \(error)")
    }

    func streamDidClose(_ stream: TCPStream) {}

    private func broken(_ why: String) {
        guard self.stream != nil else { return }
        close()
        onBroken?(why)
    }
}
