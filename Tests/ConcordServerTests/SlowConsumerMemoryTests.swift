import Foundation
import Testing
#if canImport(Glibc)
    import Glibc
#endif

/// Samples a process's resident memory on its own thread until stopped, keeping the peak.
private final class RSSSampler: @unchecked Sendable {
    private let lock = NSLock()
    private var peakBytes = 0
    private var samples = 0
    private var running = true
    private let done = DispatchSemaphore(value: 0)

    init(every interval: useconds_t = 10_000, _ read: @escaping () -> Int?) {
        Thread { [self] in
            while lock.withLock({ running }) {
                if let bytes = read() {
                    lock.withLock {
                        peakBytes = max(peakBytes, bytes); samples += 1
                    }
                }
                usleep(interval)
            }
            done.signal()
        }.start()
    }

    func record(_ bytes: Int?) {
        guard let bytes else { return }
        lock.withLock {
            peakBytes = max(peakBytes, bytes); samples += 1
        }
    }

    /// Stops sampling; returns the peak and how many samples it was taken from.
    func stop() -> (peak: Int, samples: Int) {
        lock.withLock { running = false }
        done.wait()
        return lock.withLock { (peakBytes, samples) }
    }
}

@Suite("Slow consumer memory, real process", .serialized)
struct SlowConsumerMemoryTests {
    /// How far the server's resident memory may rise above its post-startup baseline while about
    /// 50 MB flow past a reader that never reads: the outbound queue is 256 KiB per connection, so
    /// anything near the flood's size would mean the slow reader's backlog is being kept.
    /// Normal growth is under 1 MiB; an unbounded queue grows by tens of MiB during the flood.
    static let maxRSSGrowthBytes = 16 << 20  // 16 MiB
    static let maxQueueBytes = 262_144
    static let payloadBytes = 4096
    static let eventsPerBatch = 25
    static let batches = 500  // 12,500 events of about 4.2 KB: about 52 MB

    func metric(_ port: Int, _ name: String) throws -> Int? {
        let text = try TestHTTP.request(port: port, "GET", "/metrics").text
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.split(separator: " ")[1]).map { Int($0) }
        }
        return nil
    }

    func publish(_ port: Int, _ body: String) throws -> TestHTTP.Response {
        try TestHTTP.request(
            port: port, "POST", "/v1/publish",
            headers: ["Authorization": "Bearer k", "Content-Type": "application/json"], body: body)
    }

    /// Reads everything that reached the socket; returns the close frame's code, or that the socket ended without one.
    func drainUntilClosed(_ ws: TestWebSocket) -> (code: UInt16?, socketEnded: Bool) {
        do {
            while true {
                if case .close(let code, _) = try ws.next(timeout: 10) { return (code, false) }
            }
        } catch TestWebSocket.Failure.closed {
            return (nil, true)
        } catch {
            return (nil, false)
        }
    }

    @Test("A reader that never reads is closed with 4008 while 50 MB flow past; the server's RSS grows by under 16 MiB")
    func slowReaderIsCutOffAndMemoryStaysBounded() throws {
        let server = try ServerProcess(arguments: [
            "--memory", "--port", "0", "--api-key", "k",
            "--max-queue-bytes", String(Self.maxQueueBytes),
            // The flood outlasts the default 9 s idle deadline, which would also drop a reader that
            // sends nothing: set far away, only the queue bound can disconnect the slow reader.
            "--idle-timeout", "600000",
        ])
        defer { server.stop() }
        let port = server.port

        // Warm up every path the flood uses, then take the baseline.
        do {
            let warm = try TestWebSocket(port: port)
            _ = try warm.expect(op: "welcome")
            try warm.send(json: #"{"op":"subscribe","sub":"w","channel":"warmup"}"#)
            _ = try warm.expect(op: "subscribed")
            #expect(try publish(port, #"[{"channel":"warmup","type":"t"}]"#).status == 200)
            _ = try warm.expect(op: "event")
            _ = try metric(port, "concord_connections")
        }
        usleep(300_000)
        let baseline = try #require(server.residentBytes(), "VmRSS of the concord process")
        let sampler = RSSSampler { server.residentBytes() }

        let slow = try TestWebSocket(port: port, receiveBuffer: 4096)
        _ = try slow.expect(op: "welcome")
        try slow.send(json: #"{"op":"subscribe","sub":"s","channel":"flood"}"#)
        _ = try slow.expect(op: "subscribed")
        // From here on `slow` reads nothing: its window fills, then the server's queue for it.
        let fast = try TestWebSocket(port: port)
        _ = try fast.expect(op: "welcome")
        try fast.send(json: #"{"op":"subscribe","sub":"s","channel":"flood"}"#)
        _ = try fast.expect(op: "subscribed")

        let pad = String(repeating: "x", count: Self.payloadBytes)
        var publishedBytes = 0
        var offsets: [Int] = []
        offsets.reserveCapacity(Self.batches * Self.eventsPerBatch)
        var slowCutOffAfterBatch: Int?
        var slowClose: (code: UInt16?, socketEnded: Bool)?
        for batch in 0..<Self.batches {
            let body =
                "["
                + (0..<Self.eventsPerBatch).map { i in
                    #"{"channel":"flood","type":"t","payload":{"n":\#(batch * Self.eventsPerBatch + i),"pad":"\#(pad)"}}"#
                }.joined(separator: ",") + "]"
            let response = try publish(port, body)
            try #require(response.status == 200, "batch \(batch): \(response.status) \(response.text)")
            publishedBytes += body.utf8.count
            // The fast reader takes the whole batch before the next one is published.
            for _ in 0..<Self.eventsPerBatch {
                let frame = try fast.expect(op: "event")
                offsets.append(frame["offset"] as? Int ?? -1)
            }
            if slowCutOffAfterBatch == nil, try metric(port, "concord_slow_consumers_total") == 1 {
                slowCutOffAfterBatch = batch
                // Cut off: now drain what reached its socket, within the server's 2 s closing grace,
                // so the 4008 close frame queued behind the full window can arrive.
                slowClose = drainUntilClosed(slow)
            }
        }
        usleep(500_000)
        for _ in 0..<5 {
            sampler.record(server.residentBytes())
            usleep(100_000)
        }
        let (peak, samples) = sampler.stop()

        let total = Self.batches * Self.eventsPerBatch
        #expect(publishedBytes > 50_000_000, "published \(publishedBytes) bytes")
        #expect(offsets.count == total, "the fast reader received \(offsets.count) of \(total) events")
        #expect(offsets == Array(1...offsets.count), "the fast reader received the events in offset order, without gaps")
        #expect(try metric(port, "concord_slow_consumers_total") == 1)
        #expect(try metric(port, "concord_connections") == 1, "only the fast reader is still connected")
        #expect(
            slowCutOffAfterBatch != nil && slowCutOffAfterBatch! < Self.batches / 2,
            "the slow reader was cut off early in the flood (after batch \(slowCutOffAfterBatch.map(String.init) ?? "none"))")

        // The slow reader ends with the 4008 close frame or, if the server dropped the socket with
        // that frame still unwritten behind a full window, with the end of the socket.
        let (closeCode, socketEnded) = slowClose ?? drainUntilClosed(slow)
        if let closeCode {
            #expect(closeCode == 4008, "the slow reader was closed with \(closeCode)")
        } else {
            #expect(socketEnded, "the slow reader's socket neither closed with 4008 nor ended")
        }

        let growth = peak - baseline
        #expect(samples > 10, "RSS sampled \(samples) times")
        #expect(
            growth < Self.maxRSSGrowthBytes,
            "RSS peaked at \(peak >> 20) MiB from a baseline of \(baseline >> 20) MiB: \(growth >> 20) MiB over, bound \(Self.maxRSSGrowthBytes >> 20) MiB")
        print(
            "SlowConsumerMemory: \(ServerProcess.binary.path): \(publishedBytes) bytes published in \(total) events; RSS baseline \(baseline >> 10) KiB, peak \(peak >> 10) KiB (+\(growth >> 10) KiB, \(samples) samples); slow reader cut off by batch \(slowCutOffAfterBatch ?? -1); close \(closeCode.map(String.init) ?? "socket ended")"
        )
    }
}
