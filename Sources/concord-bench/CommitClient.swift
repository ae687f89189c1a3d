import ConcordUV

/// One keep-alive connection committing to its own records, one request in flight.
final class CommitClient: TCPStreamDelegate {
    private unowned let run: CommitRun
    private let index: Int
    private var stream: TCPStream?
    private var reader = HTTPResponseReader()
    /// Accepted commits per record: with a single writer the record's version is exactly that.
    private var counters: [Int]
    private var turn = 0
    private var sentAt: UInt64 = 0

    init(run: CommitRun, index: Int) {
        self.run = run
        self.index = index
        counters = Array(repeating: 0, count: run.command.recordsPerConnection)
    }

    func connect(_ completion: @escaping (String?) -> Void) {
        TCPStream.connect(loop: run.loop, host: run.command.host, port: run.command.port) { [self] result in
            switch result {
            case .failure(let error): completion("cannot connect: \(error)")
            case .success(let stream):
                self.stream = stream
                stream.delegate = self
                stream.startReading()
                completion(nil)
            }
        }
    }

    func sendNext() {
        guard let stream, run.takeCommit() else { return }
        let slot = turn % counters.count
        turn += 1
        let actor = "bench\(index)"
        let version = counters[slot] == 0 ? "{}" : #"{"\#(actor)":\#(counters[slot])}"#
        let body = #"{"channel":"bench/records","record":"\#(index)-\#(slot)","version":\#(version),"fields":{"title":"t\#(turn)"},"actor":"\#(actor)"}"#
        let request = "POST /v1/records/commit HTTP/1.1\r\nHost: \(run.command.host)\r\nAuthorization: Bearer \(run.command.apiKey)\r\n"
            + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
        sentAt = MonotonicClock.nanoseconds()
        pendingSlot = slot
        stream.send(SharedBytes(Array(request.utf8)))
    }

    private var pendingSlot = 0

    func streamDidRead(_ stream: TCPStream, _ bytes: UnsafeRawBufferPointer) {
        let problem = reader.feed(bytes) { status, _ in
            if status == 200 { counters[pendingSlot] += 1 }
            run.answered(status: status, after: MonotonicClock.nanoseconds() - sentAt)
            sendNext()
        }
        if let problem { run.finish(problem) }
    }

    func streamDidEnd(_ stream: TCPStream, error: UVError) {
        run.finish("connection ended: \(error)")
    }

    func streamDidClose(_ stream: TCPStream) {}

    func close() {
        stream?.delegate = nil
        stream?.close()
        stream = nil
    }
}
