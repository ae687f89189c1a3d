import ConcordUV

/// Publishes the events over one keep-alive HTTP/1.1 connection, pipelining requests: how a
/// backend would push into the server, and one connection so its cost is the same for every peer.
final class Publisher: TCPStreamDelegate {
    private let plan: FanoutPlan
    private unowned let tracker: DeliveryTracker
    private var stream: TCPStream?
    private var reader = HTTPResponseReader()
    private let pad: Int
    private let target: FanoutTarget
    private let channelNames: [String]
    private(set) var nextSeq = 0
    private(set) var acknowledged = 0
    private var closed = false
    /// Called if the connection breaks or a publish is refused: nothing more can be published.
    var onBroken: ((String) -> Void)?

    init(plan: FanoutPlan, tracker: DeliveryTracker) {
        self.plan = plan
        self.tracker = tracker
        target = plan.target
        channelNames = plan.channelNames()
        // Every channel's name is at most as long as the last one's.
        pad = ConcordTarget.padding(channel: channelNames.last!, events: plan.events, payloadBytes: plan.payloadBytes)
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

    /// Sends the next event to its channel (round robin), stamped with the time now; written with
    /// the rest of this loop turn.
    func publishNext() {
        guard hasMore, let stream else { return }
        let channel = channelNames[nextSeq % channelNames.count]
        let body = ConcordTarget.publishBody(channel: channel, seq: nextSeq, sentAt: MonotonicClock.nanoseconds(), pad: pad)
        let request = target.publishRequest(
            host: "\(plan.host):\(plan.port)", channel: channel, apiKey: plan.apiKey, concordPath: plan.publishPath, body: body)
        stream.send(SharedBytes(request))
        nextSeq += 1
        tracker.published(seq: nextSeq - 1)
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
            guard !target.accepts(status: status) else { return }
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
