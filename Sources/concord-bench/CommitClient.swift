import ConcordCore
import ConcordSQLite
import ConcordUV

/// One keep-alive connection committing to its own records, one request in flight: a few fresh
/// records in turn, or stored records picked at random among those whose number is its own
/// modulo the connection count (so no two connections write one record).
final class CommitClient: TCPStreamDelegate {
    private unowned let run: CommitRun
    private let index: Int
    private var stream: TCPStream?
    private var reader = HTTPResponseReader()
    /// Accepted commits per record: with a single writer its own part of the version is exactly that.
    private var counters: [Int: Int] = [:]
    private var turn = 0
    private var sentAt: UInt64 = 0
    private var random: SplitMix64

    init(run: CommitRun, index: Int) {
        self.run = run
        self.index = index
        random = SplitMix64(seed: UInt64(index) &+ 0x9E37_79B9)
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
        // Names of this run alone: a store kept from an earlier run has that run's writes, which
        // this run's contexts do not cover, so it writes its own records or fields as its own actors.
        let actor = "bench\(run.nonce)-\(index)"
        let body: String
        let slot: Int
        turn += 1
        if run.command.stored == 0 {
            slot = turn % run.command.recordsPerConnection
            let version = counters[slot, default: 0] == 0 ? "{}" : #"{"\#(actor)":\#(counters[slot]!)}"#
            body =
                #"{"channel":"bench/records","record":"\#(run.nonce)-\#(index)-\#(slot)","version":\#(version),"fields":{"title":"t\#(turn)"},"actor":"\#(actor)"}"#
        } else {
            // Record numbers base + index, base + index + connections, ...: this connection's share
            // of the range (every stored record, or the hot set: the most recently created ones).
            let connections = run.command.connections
            let share = max(1, (run.storedRange - index + connections - 1) / connections)
            slot = run.storedBase + index + Int(random.next() % UInt64(share)) * connections
            // Populated record `n + 1` holds the synthetic state `n`; its version is the context.
            var version = SQLiteRecordStore.syntheticState(slot).version.counters
            if let mine = counters[slot] { version[actor] = UInt64(mine) }
            let context = version.map { #""\#($0.key)":\#($0.value)"# }.joined(separator: ",")
            body = #"{"channel":"resources/bench","record":"\#(slot + 1)","version":{\#(context)},"fields":{"f\#(run.nonce)":"t\#(turn)"},"actor":"\#(actor)"}"#
        }
        let request =
            "POST /v1/records/commit HTTP/1.1\r\nHost: \(run.command.host)\r\nAuthorization: Bearer \(run.command.apiKey)\r\n"
            + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
        sentAt = MonotonicClock.nanoseconds()
        pendingSlot = slot
        stream.send(SharedBytes(Array(request.utf8)))
    }

    private var pendingSlot = 0

    func streamDidRead(_ stream: TCPStream, _ bytes: UnsafeRawBufferPointer) {
        let problem = reader.feed(bytes) { status, _ in
            if status == 200 { counters[pendingSlot, default: 0] += 1 }
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
