import ConcordCore
import ConcordServer
import Foundation
import Testing

/// `GET /v1/sse` over a real socket: the stream's head, its events and ids, recovery through
/// Last-Event-ID, heartbeats on a clock the test moves, and the refusals.
@Suite("Server-Sent Events over real sockets", .serialized)
struct EventStreamTests {
    /// An open event stream: reads what the server writes, as text.
    final class Stream {
        let fd: Int32
        var text = ""

        init(port: Int, query: String, headers: [String: String] = [:]) throws {
            fd = try TestWebSocket.connect(port: port)
            var head = "GET /v1/sse?\(query) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
            for (name, value) in headers { head += "\(name): \(value)\r\n" }
            let bytes = Array((head + "\r\n").utf8)
            _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }

        deinit { close(fd) }

        /// Reads until `text` contains `marker` (or the server closes, or 5 s pass).
        @discardableResult
        func read(until marker: String, timeout: Double = 5) -> Bool {
            let deadline = Date().addingTimeInterval(timeout)
            var buffer = [UInt8](repeating: 0, count: 65536)
            while !text.contains(marker), Date() < deadline {
                var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&pfd, 1, 50) > 0 else { continue }
                let n = recv(fd, &buffer, buffer.count, 0)
                if n <= 0 { return text.contains(marker) }
                text += String(decoding: buffer[0..<n], as: UTF8.self)
            }
            return text.contains(marker)
        }

        /// The events received so far: (id, data) of each block with data.
        var events: [(id: String, data: [String: Any])] {
            text.components(separatedBy: "\n\n").compactMap { block in
                var id = "", data = ""
                for line in block.split(separator: "\n") {
                    if line.hasPrefix("id: ") { id = String(line.dropFirst(4)) }
                    if line.hasPrefix("data: ") { data = String(line.dropFirst(6)) }
                }
                guard !data.isEmpty, let json = try? JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any] else { return nil }
                return (id, json)
            }
        }
    }

    func publish(_ server: TestServer, _ id: Int, type: String = "updated") throws {
        #expect(try TestHTTP.publish(port: server.port, #"{"channel":"resources/posts","type":"\#(type)","payload":{"ids":[\#(id)]}}"#).status == 200)
    }

    func ids(_ stream: Stream) -> [String] {
        stream.events.compactMap { (($0.data["payload"] as? [String: Any])?["ids"] as? [Any])?.first.map { "\($0)" } }
    }

    @Test func aStreamGetsWhatItsFilterAdmitsWithItsPositionAsTheEventID() throws {
        let server = try TestServer()
        defer { server.stop() }
        let stream = try Stream(port: server.port, query: "channel=resources/posts&ids=1,3")
        #expect(stream.read(until: ":0\n\n"))
        #expect(stream.text.hasPrefix("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream"))
        let epoch = try #require(stream.text.components(separatedBy: "id: ").last?.components(separatedBy: ":").first)
        for id in 1...3 { try publish(server, id) }
        #expect(stream.read(until: "\"ids\":[3]"))
        #expect(ids(stream) == ["1", "3"])
        #expect(stream.events.map(\.id) == ["\(epoch):1", "\(epoch):3"])
        #expect(stream.events.first?.data["type"] as? String == "updated")
        let metrics = try TestHTTP.request(port: server.port, "GET", "/metrics").text
        #expect(metrics.contains("concord_connections 1"))
    }

    @Test func reconnectingWithLastEventIDRecoversWhatWasMissedOrSaysRefetch() throws {
        let server = try TestServer()
        defer { server.stop() }
        var stream: Stream? = try Stream(port: server.port, query: "channel=resources/posts")
        #expect(stream!.read(until: ":0\n\n"))
        try publish(server, 1)
        #expect(stream!.read(until: "\"ids\":[1]"))
        let last = try #require(stream!.events.last?.id)
        stream = nil  // the network goes
        server.waitForConnections(0)
        for id in 2...3 { try publish(server, id) }
        let back = try Stream(port: server.port, query: "channel=resources/posts", headers: ["Last-Event-ID": last])
        #expect(back.read(until: "\"ids\":[3]"))
        #expect(ids(back) == ["2", "3"], "the missed events, in order, once")
        try publish(server, 4)
        #expect(back.read(until: "\"ids\":[4]"))
        #expect(ids(back) == ["2", "3", "4"])

        // A position of a stream that is gone: one refetch event, then live events.
        let lost = try Stream(port: server.port, query: "channel=resources/posts&lastEventId=gone:7")
        #expect(lost.read(until: "refetch"))
        let refetch = try #require(lost.events.first?.data)
        #expect(refetch["type"] as? String == "*")
        #expect(((refetch["meta"] as? [String: Any])?["concord"] as? [String: Any])?["reason"] as? String == "epoch_changed")
    }

    @Test func aStreamGetsHeartbeatsAndItsTokenlessDrainSaysWhenToComeBack() throws {
        let clock = ManualClock()
        let server = try TestServer {
            $0.clock = clock
            $0.pingIntervalMilliseconds = 1_000
            $0.drainWindowMilliseconds = 300
        }
        defer { server.stop() }
        let stream = try Stream(port: server.port, query: "channel=resources/posts")
        #expect(stream.read(until: ":0\n\n"))
        server.advance(clock, by: 1_000)
        #expect(stream.read(until: ": ping\n\n"))
        // Heartbeats only: a silent EventSource is never dropped for its silence.
        server.advance(clock, by: 60_000)
        server.advance(clock, by: 1_000)
        #expect(try TestHTTP.request(port: server.port, "GET", "/healthz").json["connections"] as? Int == 1)
        server.requestStop()
        #expect(stream.read(until: "retry: "))
    }

    @Test func badStreamsAreRefusedWithTheirStatus() throws {
        let server = try TestServer { $0.publicSubscribe = [ChannelPattern("resources/*")] }
        defer { server.stop() }
        for (query, headers, status, code) in [
            ("", [String: String](), 400, "invalid_frame"),
            ("channel=a%20b", [:], 400, "invalid_channel"),
            ("channel=resources/posts", ["Last-Event-ID": "nonsense"], 400, "invalid_frame"),
            ("channel=private/x", [:], 403, "forbidden"),
        ] {
            let refused = try Stream(port: server.port, query: query, headers: headers)
            refused.read(until: "}}")
            #expect(refused.text.hasPrefix("HTTP/1.1 \(status)"), "\(query): \(refused.text)")
            #expect(refused.text.contains(#""code":"\#(code)""#), "\(query)")
        }
        let post = try TestHTTP.request(port: server.port, "POST", "/v1/sse?channel=resources/posts", headers: ["Content-Type": "application/json"], body: "{}")
        #expect(post.status == 405)
    }
}
