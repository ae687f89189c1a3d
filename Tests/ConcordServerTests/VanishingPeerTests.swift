import Foundation
import Synchronization
import Testing

/// A peer that hangs up while the server is writing to it answers the next write with a reset, and
/// the write after that fails with EPIPE; the server must take that as one closed connection, not as the end of the process. The
/// server runs in this test's process, which ignores nothing by itself: the server has to ignore
/// SIGPIPE (`EventLoop` does) for any program that embeds it.
@Suite("Peers that vanish mid-write", .serialized)
struct VanishingPeerTests {
    @Test func subscribersHangingUpDuringABurstLeaveTheServerRunning() throws {
        let server = try TestServer()
        defer { server.stop() }
        let pad = String(repeating: "x", count: 2_000)
        let batch = "[" + (0..<50).map { _ in #"{"channel":"burst","type":"t","payload":{"pad":"\#(pad)"}}"# }.joined(separator: ",") + "]"
        // Publishes go on the whole time, so the server always has writes to make.
        let stop = Atomic(false)
        let port = server.port
        let publisher = Thread {
            while !stop.load(ordering: .relaxed) { _ = try? TestHTTP.publish(port: port, batch) }
        }
        publisher.start()
        defer { stop.store(true, ordering: .relaxed) }
        for _ in 0..<10 {
            // Slow readers: what the server writes to them waits in its queue and theirs.
            let subscribers = try (0..<20).map { _ in
                let ws = try TestWebSocket(port: server.port, receiveBuffer: 4096)
                _ = try ws.expect(op: "welcome")
                try ws.send(json: #"{"op":"subscribe","sub":"s","channel":"burst"}"#)
                return ws
            }
            usleep(20_000)  // let the burst pile up behind the small windows
            subscribers.forEach { $0.abort() }
            usleep(20_000)  // writes go on to the half-closed sockets, which answer with resets
        }
        stop.store(true, ordering: .relaxed)
        #expect(try TestHTTP.request(port: server.port, "GET", "/healthz").status == 200)
    }
}
