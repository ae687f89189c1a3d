import Foundation
import Testing

@Suite("Bounded outbound queues", .serialized)
struct SlowConsumerTests {
    @Test func aReaderThatFallsBehindIsClosedWith4008AndOthersKeepReceiving() throws {
        let server = try TestServer { $0.maxQueueBytes = 70_000 }
        defer { server.stop() }
        let slow = try TestWebSocket(port: server.port, receiveBuffer: 4096)
        _ = try slow.expect(op: "welcome")
        try slow.send(json: #"{"op":"subscribe","sub":"s","channel":"flood"}"#)
        _ = try slow.expect(op: "subscribed")
        let fast = try TestWebSocket(port: server.port)
        _ = try fast.expect(op: "welcome")
        try fast.send(json: #"{"op":"subscribe","sub":"s","channel":"flood"}"#)
        _ = try fast.expect(op: "subscribed")

        // About 3 MB of events while `slow` reads nothing.
        let pad = String(repeating: "x", count: 3000)
        let batch = "[" + (0..<10).map { #"{"channel":"flood","type":"t","payload":{"pad":"\#(pad)","n":\#($0)}}"# }.joined(separator: ",") + "]"
        var received = 0
        for _ in 0..<100 {
            #expect(try TestHTTP.publish(port: server.port, batch).status == 200)
            for _ in 0..<10 {
                _ = try fast.expect(op: "event")
                received += 1
            }
        }
        #expect(received == 1000)

        let metrics = try TestHTTP.request(port: server.port, "GET", "/metrics").text
        #expect(metrics.contains("concord_slow_consumers_total 1"))
        // Draining what was already sent ends with the 4008 close frame, or a closed socket.
        var sawClose: UInt16?? = .none
        do {
            while true {
                if case .close(let code, _) = try slow.next(timeout: 5) { sawClose = code; break }
            }
        } catch TestWebSocket.Failure.closed {
            sawClose = .some(nil)
        }
        if case .some(let code?) = sawClose { #expect(code == 4008) } else { #expect(sawClose != nil) }
    }

    @Test func aBurstLargerThanTheQueueDoesNotCloseAReaderThatKeepsUp() throws {
        let server = try TestServer { $0.maxQueueBytes = 70_000 }
        defer { server.stop() }
        let reader = try TestWebSocket(port: server.port)
        _ = try reader.expect(op: "welcome")
        try reader.send(json: #"{"op":"subscribe","sub":"s","channel":"burst"}"#)
        _ = try reader.expect(op: "subscribed")
        // 300 KB published in one request, so in one loop turn: the kernel takes it as it is queued.
        let pad = String(repeating: "x", count: 3000)
        let batch = "[" + (0..<100).map { _ in #"{"channel":"burst","type":"t","payload":{"pad":"\#(pad)"}}"# }.joined(separator: ",") + "]"
        #expect(try TestHTTP.publish(port: server.port, batch).status == 200)
        for _ in 0..<100 { _ = try reader.expect(op: "event") }
        let metrics = try TestHTTP.request(port: server.port, "GET", "/metrics").text
        #expect(metrics.contains("concord_slow_consumers_total 0"))
    }

    @Test func gracefulShutdownSaysWhenToComeBack() throws {
        let server = try TestServer()
        let ws = try TestWebSocket(port: server.port)
        _ = try ws.expect(op: "welcome")
        server.stop()
        _ = try ws.expect(op: "reconnect")
        #expect(try ws.expectClose() == 4012)
    }
}
