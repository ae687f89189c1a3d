import ConcordCodec
import ConcordCore
import ConcordServer
import Foundation
import Testing
#if canImport(Glibc)
    import Glibc
#endif

/// One test per limit of `/tmp/auth-spec.md` and `protocol/README.md`: crossing it gives the documented
/// error or close code, and `concord_limit_hits_total{limit="NAME"}` moves from 0 to the expected count
/// while every other limit's counter stays where it was. Each test runs its own server with the limit
/// set low, so it is crossed in a few frames.
@Suite("Limits: documented answer and labelled metric", .serialized)
struct LimitTests {
    /// Every label `concord_limit_hits_total` carries.
    static let allLimits = [
        "message_bytes", "subscriptions", "subscription_ids", "queue_bytes", "body_bytes", "header_bytes",
        "header_count", "connections", "connections_per_ip", "connections_per_user", "handshake_timeout",
        "idle_timeout", "publish_rate", "typing_rate", "commit_rate",
    ]

    // MARK: WebSocket messages

    @Test func aMessageOverMaxMessageBytesClosesWith1009() throws {
        let server = try TestServer { $0.maxMessageBytes = 1024 }
        defer { server.stop() }
        let before = try scrapeAtZero(server)
        let ws = try connect(server)

        // Exactly the limit is accepted (unknown members of a command are ignored).
        let exact = padded(#"{"op":"ping","id":1,"pad":""#, to: 1024, suffix: #""}"#)
        #expect(exact.utf8.count == 1024)
        try ws.send(json: exact)
        #expect(try ws.expect(op: "pong")["id"] as? Int == 1)

        try ws.send(json: padded(#"{"op":"ping","id":2,"pad":""#, to: 1025, suffix: #""}"#))
        #expect(try ws.expectClose() == 1009)
        try expectHits(server, "message_bytes", 1, since: before)
    }

    @Test func subscribingPastMaxSubscriptionsIsRefusedAndTheConnectionStaysUsable() throws {
        let server = try TestServer { $0.maxSubscriptions = 2 }
        defer { server.stop() }
        let before = try scrapeAtZero(server)
        let ws = try connect(server)
        for n in 1...2 {
            try ws.send(json: #"{"op":"subscribe","id":\#(n),"sub":"s\#(n)","channel":"c/\#(n)"}"#)
            _ = try ws.expect(op: "subscribed")
        }
        try ws.send(json: #"{"op":"subscribe","id":3,"sub":"s3","channel":"c/3"}"#)
        let error = try ws.expect(op: "error")
        #expect(error["id"] as? Int == 3)
        #expect(error["code"] as? String == "too_many_subscriptions")
        try expectPong(ws)
        try expectHits(server, "subscriptions", 1, since: before)
    }

    @Test func moreIDsThanMaxSubscriptionIDsIsInvalidFrameCountingRepeats() throws {
        let server = try TestServer { $0.maxSubscriptionIDs = 3 }
        defer { server.stop() }
        let before = try scrapeAtZero(server)
        let ws = try connect(server)
        try ws.send(json: #"{"op":"subscribe","id":1,"sub":"a","channel":"resources/posts","params":{"ids":[1,2,3]}}"#)
        _ = try ws.expect(op: "subscribed")
        // Four ids, one of them repeated: still four.
        try ws.send(json: #"{"op":"subscribe","id":2,"sub":"b","channel":"resources/posts","params":{"ids":[1,2,3,1]}}"#)
        let error = try ws.expect(op: "error")
        #expect(error["id"] as? Int == 2)
        #expect(error["code"] as? String == "invalid_frame")
        #expect(error["message"] as? String == "at most 3 ids per subscription")
        // Past the most any server reads (10,000), the answer still names the limit in force.
        let many = (0...10_000).map(String.init).joined(separator: ",")
        try ws.send(json: #"{"op":"subscribe","id":3,"sub":"c","channel":"resources/posts","params":{"ids":[\#(many)]}}"#)
        let huge = try ws.expect(op: "error")
        #expect(huge["id"] as? Int == 3)
        #expect(huge["message"] as? String == "at most 3 ids per subscription")
        try expectPong(ws)
        try expectHits(server, "subscription_ids", 2, since: before)
    }

    @Test func aReaderPastMaxQueueBytesIsClosedWith4008() throws {
        let clock = ManualClock()
        let server = try TestServer {
            $0.maxQueueBytes = 70_000
            $0.clock = clock
        }
        defer { server.stop() }
        let before = try scrapeAtZero(server)
        let slow = try TestWebSocket(port: server.port, receiveBuffer: 4096)
        _ = try slow.expect(op: "welcome")
        try slow.send(json: #"{"op":"subscribe","sub":"s","channel":"flood"}"#)
        _ = try slow.expect(op: "subscribed")
        let fast = try connect(server)
        try fast.send(json: #"{"op":"subscribe","sub":"s","channel":"flood"}"#)
        _ = try fast.expect(op: "subscribed")

        // About 3 MB of events while `slow` reads nothing; `fast` keeps up.
        let pad = String(repeating: "x", count: 3000)
        let batch = "[" + (0..<10).map { #"{"channel":"flood","type":"t","payload":{"pad":"\#(pad)","n":\#($0)}}"# }.joined(separator: ",") + "]"
        for _ in 0..<100 {
            #expect(try TestHTTP.publish(port: server.port, batch).status == 200)
            for _ in 0..<10 { _ = try fast.expect(op: "event") }
        }
        // The reader stays paused longer than an ordinary close waits for its peer (2 s, by the
        // server's clock); then, draining what was sent before the overflow ends with the 4008
        // close frame all the same.
        server.advance(clock, by: 2_500)
        var code: UInt16?
        do {
            while true {
                if case .close(let c, _) = try slow.next(timeout: 5) { code = c; break }
            }
        } catch TestWebSocket.Failure.closed {}
        #expect(code == 4008)
        try expectPong(fast)
        try expectHits(server, "queue_bytes", 1, since: before)
    }

    // MARK: HTTP requests

    @Test func aBodyOverMaxBodyBytesIs413PayloadTooLarge() throws {
        let server = try TestServer { $0.maxBodyBytes = 100 }
        defer { server.stop() }
        let before = try scrapeAtZero(server)
        let exact = padded(#"{"channel":"c","type":"t","payload":{"pad":""#, to: 100, suffix: #""}}"#)
        #expect(exact.utf8.count == 100)
        #expect(try TestHTTP.publish(port: server.port, exact).status == 200)

        let over = try TestHTTP.publish(port: server.port, padded(#"{"channel":"c","type":"t","payload":{"pad":""#, to: 101, suffix: #""}}"#))
        #expect(over.status == 413)
        #expect(errorCode(over.json) == "payload_too_large")
        try expectHits(server, "body_bytes", 1, since: before)
    }

    @Test func headersOverMaxHeaderBytesAre431HeadersTooLarge() throws {
        let server = try TestServer { $0.maxHeaderBytes = 512 }
        defer { server.stop() }
        let before = try scrapeAtZero(server)
        #expect(try TestHTTP.request(port: server.port, "GET", "/healthz", headers: ["X-Pad": String(repeating: "p", count: 300)]).status == 200)
        let over = try TestHTTP.request(port: server.port, "GET", "/healthz", headers: ["X-Pad": String(repeating: "p", count: 600)])
        #expect(over.status == 431)
        #expect(errorCode(over.json) == "headers_too_large")
        try expectHits(server, "header_bytes", 1, since: before)
    }

    @Test func moreHeadersThanMaxHeaderCountAre431HeadersTooLarge() throws {
        let server = try TestServer { $0.maxHeaderCount = 5 }
        defer { server.stop() }
        let before = try scrapeAtZero(server)
        // TestHTTP sends Host and Connection itself: 2 + 3 = exactly the limit.
        #expect(try TestHTTP.request(port: server.port, "GET", "/healthz", headers: ["X-A": "1", "X-B": "2", "X-C": "3"]).status == 200)
        let over = try TestHTTP.request(port: server.port, "GET", "/healthz", headers: ["X-A": "1", "X-B": "2", "X-C": "3", "X-D": "4"])
        #expect(over.status == 431)
        #expect(errorCode(over.json) == "headers_too_large")
        try expectHits(server, "header_count", 1, since: before)
    }

    // MARK: Connections

    /// The limits answered at accept, before the client says anything.
    struct AcceptLimit: CustomTestStringConvertible, Sendable {
        let name: String
        let status: Int
        let label: String
        let configure: @Sendable (inout ServerConfiguration) -> Void
        var testDescription: String { name }
    }

    static let acceptLimits = [
        AcceptLimit(name: "connections in total", status: 503, label: "connections") { $0.maxConnections = 3 },
        AcceptLimit(name: "connections per address", status: 429, label: "connections_per_ip") { $0.maxConnectionsPerIP = 3 },
    ]

    @Test(
        "Past a connection limit the next connection gets its status and is closed; a freed slot is taken again",
        arguments: acceptLimits)
    func pastAConnectionLimitTheNextConnectionIsRefused(_ limit: AcceptLimit) throws {
        let server = try TestServer(limit.configure)
        defer { server.stop() }
        let before = try scrapeAtZero(server)
        server.waitForConnections(0)  // the scrape's own connection is gone
        var open = try (0..<3).map { _ in try connect(server) }

        // The refusal is sent at accept: the client need not say anything.
        let refused = try RawTCP(port: server.port).read(timeout: 3)
        #expect(refused.closed, "the refused socket is closed by the server")
        #expect(refused.response?.status == limit.status)
        #expect(errorCode(refused.response?.json) == "too_many_connections")

        // One closes: a new one is accepted again.
        open.removeFirst().abort()
        server.waitForConnections(2)
        open.append(try connect(server))
        try expectPong(open.last!)

        // Room for the scrape.
        open.forEach { $0.abort() }
        open.removeAll()
        server.waitForConnections(0)
        try expectHits(server, limit.label, 1, since: before)
    }

    @Test func pastMaxConnectionsPerUserTheUpgradeGets429AndOtherUsersStillConnect() throws {
        let server = try TestServer {
            $0.developmentMode = true
            $0.maxConnectionsPerUser = 2
        }
        defer { server.stop() }
        let before = try scrapeAtZero(server)
        var alice = try (0..<2).map { _ in try connect(server, user: "alice") }

        let raw = try RawTCP(port: server.port)
        try raw.send(upgradeRequest(port: server.port, path: "/v1/ws?user=alice"))
        let refused = raw.read(timeout: 3)
        #expect(refused.closed, "the refused upgrade's socket is closed by the server")
        #expect(refused.response?.status == 429)
        #expect(errorCode(refused.response?.json) == "too_many_connections")

        let bob = try connect(server, user: "bob")
        try expectPong(bob)
        try expectPong(alice[0])

        // One of alice's connections closes: she may open another.
        alice.removeFirst().abort()
        server.waitForConnections(2)
        alice.append(try connect(server, user: "alice"))
        try expectPong(alice.last!)
        try expectHits(server, "connections_per_user", 1, since: before)
        withExtendedLifetime(alice) {}
    }

    // MARK: Timeouts

    /// Timeouts run on a clock the test moves: each test steps to just before the deadline (the
    /// connection stays) and onto it (it goes), with no waiting on real time.
    /// A server whose requests must be whole within 300 ms, on `clock`.
    func handshakeServer(_ clock: ManualClock) throws -> TestServer {
        try TestServer {
            $0.handshakeTimeoutMilliseconds = 300
            $0.clock = clock
        }
    }

    /// Steps to `remaining - 1` ms (the connection stays), then onto the deadline: it is closed
    /// without a response (protocol/README.md: "the connection is closed without a response", even
    /// mid-request), and the limit counts one hit.
    fileprivate func expectClosedAtTheDeadline(
        _ raw: RawTCP, _ server: TestServer, _ clock: ManualClock, remaining: Int64, before: MetricsScrape
    ) throws {
        server.advance(clock, by: remaining - 1)
        #expect(!raw.read(timeout: 0.05).closed, "open 1 ms before the deadline")
        server.advance(clock, by: 1)
        let answer = raw.read(timeout: 5)
        #expect(answer.closed, "the server closed the connection at the deadline")
        #expect(answer.bytes.isEmpty, "unexpected answer: \(String(decoding: answer.bytes, as: UTF8.self))")
        try expectHits(server, "handshake_timeout", 1, since: before)
    }

    @Test func aTrickledRequestIsClosedAtTheHandshakeTimeout() throws {
        let clock = ManualClock()
        let server = try handshakeServer(clock)
        defer { server.stop() }
        let before = try scrapeAtZero(server)
        server.waitForConnections(0)
        let raw = try RawTCP(port: server.port)
        try raw.send(Array("GET /hea".utf8))
        server.waitForConnections(1)  // accepted: the request's deadline counts from here
        // A byte every 40 ms: activity, but the request never completes, so the deadline stays.
        for byte in Array("lthz HT".utf8) {
            try raw.send([byte])
            server.advance(clock, by: 40)
        }
        try expectClosedAtTheDeadline(raw, server, clock, remaining: 300 - 7 * 40, before: before)
    }

    @Test func aTrickledSecondRequestOnAKeepAliveConnectionHasADeadlineToo() throws {
        let clock = ManualClock()
        let server = try handshakeServer(clock)
        defer { server.stop() }
        let before = try scrapeAtZero(server)
        let raw = try RawTCP(port: server.port)
        try raw.send(Array("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8))
        let first = raw.read(timeout: 0.05)
        #expect(String(decoding: first.bytes, as: UTF8.self).hasPrefix("HTTP/1.1 200"))
        #expect(!first.closed)
        // The second request's deadline counts from the first response, however long the first took.
        try raw.send(Array("GET /healthz HTTP/1.1\r\nHost: 127".utf8))
        try expectClosedAtTheDeadline(raw, server, clock, remaining: 300, before: before)
    }

    @Test func aConnectionThatNeverAnswersPingsIsDroppedAtTheIdleTimeout() throws {
        let clock = ManualClock()
        let server = try TestServer {
            $0.pingIntervalMilliseconds = 200
            $0.idleTimeoutMilliseconds = 500
            $0.clock = clock
        }
        defer { server.stop() }
        let before = try scrapeAtZero(server)
        let silent = try connect(server)
        silent.answerPings = false
        let live = try connect(server)  // answers the pings it reads
        // Every 200 ms both are pinged; `live` answers (its pong is read before its ping command).
        for _ in 0..<2 {
            server.advance(clock, by: 200)
            try expectPong(live)
        }
        #expect(!silent.closed)
        #expect(try silent.expectSilence(0.05) == nil)
        // 500 ms after its last byte the silent one is dropped; `live` spoke 100 ms ago and stays.
        server.advance(clock, by: 100)
        #expect(try silent.expectClose() == nil, "dropped without a close frame")
        #expect(silent.pingsReceived == 2, "pinged at 200 and 400 ms")
        try expectPong(live)
        try expectHits(server, "idle_timeout", 1, since: before)
    }

    // MARK: Rates

    @Test func publishesPastTheBurstAreRateLimitedAndNotDelivered() throws {
        let server = try TestServer {
            $0.clientPublish = [ChannelPattern("chat/*")]
            $0.publishBurst = 3
            $0.publishPerSecond = 1
        }
        defer { server.stop() }
        let before = try scrapeAtZero(server)
        let subscriber = try connect(server)
        try subscriber.send(json: #"{"op":"subscribe","id":1,"sub":"s","channel":"chat/room"}"#)
        _ = try subscriber.expect(op: "subscribed")
        let publisher = try connect(server)
        for n in 1...4 {
            try publisher.send(json: #"{"op":"publish","id":\#(n),"event":{"channel":"chat/room","type":"message","payload":{"n":\#(n)}}}"#)
        }
        for n in 1...3 { #expect(try publisher.expect(op: "published")["id"] as? Int == n) }
        let error = try publisher.expect(op: "error")
        #expect(error["id"] as? Int == 4)
        #expect(error["code"] as? String == "rate_limited")
        #expect(error["message"] as? String == "publishes are limited to a burst of 3, then 1 per second")

        var delivered: [Int] = []
        while let frame = try subscriber.expectSilence(0.3) {
            if frame["op"] as? String == "event",
                let payload = (frame["event"] as? [String: Any])?["payload"] as? [String: Any], let n = payload["n"] as? Int
            {
                delivered.append(n)
            }
        }
        #expect(delivered == [1, 2, 3])
        try expectPong(publisher)
        try expectHits(server, "publish_rate", 1, since: before)
    }

    @Test func typingSignalsPastTheBurstAreRateLimited() throws {
        let server = try TestServer {
            $0.developmentMode = true
            $0.typingBurst = 3
            $0.typingPerSecond = 1
        }
        defer { server.stop() }
        let before = try scrapeAtZero(server)
        let alice = try connect(server, user: "alice")
        for n in 1...4 {
            try alice.send(json: #"{"op":"typing.start","id":\#(n),"channel":"comments/1","scope":"new"}"#)
        }
        for n in 1...3 { #expect(try alice.expect(op: "typing.ok")["id"] as? Int == n) }
        let error = try alice.expect(op: "error")
        #expect(error["id"] as? Int == 4)
        #expect(error["code"] as? String == "rate_limited")
        #expect(error["message"] as? String == "typing signals are limited to a burst of 3, then 1 per second")
        try expectPong(alice)
        try expectHits(server, "typing_rate", 1, since: before)
    }

    @Test func commitsAreRateLimitedPerUserAcrossConnections() throws {
        let server = try TestServer {
            $0.developmentMode = true
            $0.commitBurst = 2
            $0.commitPerSecond = 0.2
        }
        defer { server.stop() }
        let before = try scrapeAtZero(server)
        let tab1 = try connect(server, user: "alice")
        let tab2 = try connect(server, user: "alice")

        try tab1.send(json: #"{"op":"record.commit","id":1,"channel":"resources/posts","record":1,"version":{},"fields":{"title":"one"}}"#)
        #expect(try tab1.expect(op: "record.committed")["version"] as? [String: Int] == ["alice": 1])
        try tab2.send(json: #"{"op":"record.commit","id":2,"channel":"resources/posts","record":1,"version":{"alice":1},"fields":{"title":"two"}}"#)
        #expect(try tab2.expect(op: "record.committed")["version"] as? [String: Int] == ["alice": 2])
        // The burst of 2 is alice's, not each tab's: the third commit, from the first tab, is refused.
        try tab1.send(json: #"{"op":"record.commit","id":3,"channel":"resources/posts","record":1,"version":{"alice":2},"fields":{"title":"three"}}"#)
        let error = try tab1.expect(op: "error")
        #expect(error["id"] as? Int == 3)
        #expect(error["code"] as? String == "rate_limited")
        #expect(error["message"] as? String == "commits are limited to a burst of 2, then 0.2 per second")

        // Nothing changed.
        try tab1.send(json: #"{"op":"record.get","id":4,"channel":"resources/posts","record":1}"#)
        let state = try tab1.expect(op: "record.state")
        #expect(state["version"] as? [String: Int] == ["alice": 2])
        let title = (state["fields"] as? [String: Any])?["title"] as? [String: Any]
        #expect(title?["value"] as? String == "two")

        // Another user has a bucket of their own.
        let bob = try connect(server, user: "bob")
        try bob.send(json: #"{"op":"record.commit","id":5,"channel":"resources/posts","record":1,"version":{"alice":2},"fields":{"title":"bob"}}"#)
        #expect(try bob.expect(op: "record.committed")["version"] as? [String: Int] == ["alice": 2, "bob": 1])
        try expectPong(tab1)
        try expectPong(tab2)
        try expectHits(server, "commit_rate", 1, since: before)
    }

    // MARK: Helpers

    func connect(_ server: TestServer, user: String? = nil) throws -> TestWebSocket {
        let ws = try TestWebSocket(port: server.port, path: "/v1/ws" + (user.map { "?user=\($0)" } ?? ""))
        _ = try ws.expect(op: "welcome")
        return ws
    }

    /// The `ping` command still gets its `pong`: the connection is usable.
    func expectPong(_ ws: TestWebSocket, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let id = Int.random(in: 1000...9999)
        try ws.send(json: #"{"op":"ping","id":\#(id)}"#)
        #expect(try ws.expect(op: "pong")["id"] as? Int == id, sourceLocation: sourceLocation)
    }

    /// The first scrape: every limit's counter is exported, at 0.
    func scrapeAtZero(_ server: TestServer, sourceLocation: SourceLocation = #_sourceLocation) throws -> MetricsScrape {
        let scrape = try MetricsScrape.get(port: server.port)
        for limit in Self.allLimits {
            #expect(scrape.limitHits(limit) == 0, "concord_limit_hits_total{limit=\"\(limit)\"} at start", sourceLocation: sourceLocation)
        }
        return scrape
    }

    /// `limit` moved by exactly `count` since `before`, and no other limit moved.
    func expectHits(
        _ server: TestServer, _ limit: String, _ count: Int, since before: MetricsScrape,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let after = try MetricsScrape.get(port: server.port)
        #expect(
            after.limitHits(limit) == (before.limitHits(limit) ?? 0) + count,
            "concord_limit_hits_total{limit=\"\(limit)\"}", sourceLocation: sourceLocation)
        for other in Self.allLimits where other != limit {
            #expect(
                after.limitHits(other) == before.limitHits(other),
                "concord_limit_hits_total{limit=\"\(other)\"} moved", sourceLocation: sourceLocation)
        }
    }

    /// `prefix`, then `x` up to `count` bytes in all, then `suffix`.
    func padded(_ prefix: String, to count: Int, suffix: String) -> String {
        prefix + String(repeating: "x", count: count - prefix.utf8.count - suffix.utf8.count) + suffix
    }

    func errorCode(_ json: [String: Any]?) -> String? {
        (json?["error"] as? [String: Any])?["code"] as? String
    }

    func upgradeRequest(port: Int, path: String) -> [UInt8] {
        let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        return WebSocketHandshake.clientRequest(host: "127.0.0.1:\(port)", path: path, key: key)
    }
}

/// A plain TCP client that can say nothing, trickle bytes, and tell a close by the server from silence.
private final class RawTCP {
    let fd: Int32

    init(port: Int) throws { fd = try TestWebSocket.connect(port: port) }
    deinit { close(fd) }

    func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestWebSocket.Failure.closed }
            sent += n
        }
    }

    struct Reply {
        var bytes: [UInt8]
        /// The server ended the connection (EOF or reset) within the time.
        var closed: Bool

        /// The bytes as one HTTP response, when they are one.
        var response: TestHTTP.Response? {
            guard let split = bytes.firstRange(of: [13, 10, 13, 10]) else { return nil }
            let head = String(decoding: bytes[..<split.lowerBound], as: UTF8.self)
            let parts = head.split(separator: " ")
            guard parts.count >= 2, let status = Int(parts[1]) else { return nil }
            return TestHTTP.Response(status: status, headers: head, body: Array(bytes[split.upperBound...]))
        }
    }

    /// Everything that arrives within `timeout` seconds, stopping early when the server closes.
    func read(timeout: Double) -> Reply {
        var reply = Reply(bytes: [], closed: false)
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { return reply }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, Int32(remaining * 1000) + 1) > 0 else { continue }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n > 0 {
                reply.bytes += buffer[0..<n]
            } else {
                reply.closed = true
                return reply
            }
        }
    }
}
