import ConcordCodec
import ConcordServer
import Foundation
import Testing

@Suite("Presence and typing over real sockets", .serialized)
struct PresenceIntegrationTests {
    func connect(_ server: TestServer, user: String, name: String? = nil) throws -> TestWebSocket {
        let ws = try TestWebSocket(port: server.port, path: "/v1/ws?user=\(user)" + (name.map { "&name=\($0)" } ?? ""))
        _ = try ws.expect(op: "welcome")
        return ws
    }

    func devServer(_ configure: @escaping (inout ServerConfiguration) -> Void = { _ in }) throws -> TestServer {
        try TestServer {
            $0.developmentMode = true
            $0.pingIntervalMilliseconds = 200
            $0.idleTimeoutMilliseconds = 600
            $0.typingTTLMilliseconds = 400
            configure(&$0)
        }
    }

    func presenceEvent(_ ws: TestWebSocket) throws -> (action: String, user: String, connections: Int) {
        let frame = try ws.expect(op: "presence.event")
        let member = frame["member"] as! [String: Any]
        return (frame["action"] as! String, member["user"] as! String, member["connections"] as! Int)
    }

    @Test func snapshotThenDeltasWithTabsCountedOnce() throws {
        let server = try devServer()
        defer { server.stop() }
        let aliceTab1 = try connect(server, user: "alice")
        try aliceTab1.send(json: #"{"op":"presence.enter","id":1,"channel":"presence/posts/1","info":{"name":"Alice"}}"#)
        _ = try aliceTab1.expect(op: "presence.entered")

        let bob = try connect(server, user: "bob")
        try bob.send(json: #"{"op":"presence.subscribe","id":1,"channel":"presence/posts/1"}"#)
        let snapshot = try bob.expect(op: "presence.snapshot")
        #expect(snapshot["total"] as? Int == 1)
        #expect((snapshot["members"] as? [[String: Any]])?.first?["user"] as? String == "alice")

        let aliceTab2 = try connect(server, user: "alice")
        try aliceTab2.send(json: #"{"op":"presence.enter","id":2,"channel":"presence/posts/1","info":{"name":"Alice"}}"#)
        _ = try aliceTab2.expect(op: "presence.entered")
        // The second tab is no second join: alice's connection count goes up.
        #expect(try presenceEvent(bob) == ("update", "alice", 2))
        try bob.send(json: #"{"op":"presence.enter","id":2,"channel":"presence/posts/1","info":{"name":"Bob"}}"#)
        _ = try bob.expect(op: "presence.entered")
        #expect(try presenceEvent(bob) == ("join", "bob", 1))

        try aliceTab2.send(json: #"{"op":"presence.update","id":3,"channel":"presence/posts/1","info":{"name":"Alice","field":"title"}}"#)
        _ = try aliceTab2.expect(op: "presence.updated")
        #expect(try presenceEvent(bob) == ("update", "alice", 2))

        // Closing one of two tabs emits no leave, only the new count; closing the last one leaves.
        try aliceTab1.send(.close, [0x03, 0xE8])
        _ = try aliceTab1.expectClose()
        #expect(try presenceEvent(bob) == ("update", "alice", 1))
        try aliceTab2.send(.close, [0x03, 0xE8])
        _ = try aliceTab2.expectClose()
        #expect(try presenceEvent(bob) == ("leave", "alice", 0))

        let http = try TestHTTP.request(port: server.port, "GET", "/v1/presence/presence/posts/1", headers: ["Authorization": "Bearer test-key"])
        #expect(http.json["total"] as? Int == 1)
    }

    /// Answers the server's pings and proves nothing else came first: `pong` must be the next frame.
    func keepAlive(_ ws: TestWebSocket) throws {
        try ws.send(json: #"{"op":"ping"}"#)
        _ = try ws.expect(op: "pong")
    }

    /// Moves the server's clock in steps shorter than the idle timeout, keeping `alive` talking.
    func advance(_ server: TestServer, _ clock: ManualClock, by milliseconds: Int64, keeping alive: [TestWebSocket]) throws {
        var left = milliseconds
        while left > 0 {
            let step = min(left, 300)
            server.advance(clock, by: step)
            for ws in alive { try keepAlive(ws) }
            left -= step
        }
    }

    @Test func aSilentClientIsReportedLeftAtTheIdleDeadline() throws {
        let clock = ManualClock()
        let server = try devServer { $0.clock = clock }
        defer { server.stop() }
        let watcher = try connect(server, user: "bob")
        try watcher.send(json: #"{"op":"presence.subscribe","channel":"p"}"#)
        _ = try watcher.expect(op: "presence.snapshot")
        let frozen = try connect(server, user: "carol")
        try frozen.send(json: #"{"op":"presence.enter","id":1,"channel":"p"}"#)
        _ = try frozen.expect(op: "presence.entered")
        // From here `frozen` reads nothing and answers no ping, but keeps its socket open.
        #expect(try presenceEvent(watcher) == ("join", "carol", 1))
        // Pinged, silent for 599 ms of the 600 ms idle timeout: still present.
        try advance(server, clock, by: 599, keeping: [watcher])
        // At 600 ms it is dropped, and it leaves at once.
        server.advance(clock, by: 1)
        #expect(try presenceEvent(watcher) == ("leave", "carol", 0))
        _ = frozen
    }

    @Test func aQuickReconnectAfterADroppedSocketShowsNoLeaveOrJoin() throws {
        let clock = ManualClock()
        let server = try devServer { $0.clock = clock }
        defer { server.stop() }
        let bob = try connect(server, user: "bob")
        try bob.send(json: #"{"op":"presence.subscribe","channel":"p/2"}"#)
        _ = try bob.expect(op: "presence.snapshot")
        let first = try connect(server, user: "alice")
        try first.send(json: #"{"op":"presence.enter","channel":"p/2"}"#)
        #expect(try presenceEvent(bob) == ("join", "alice", 1))

        // The socket drops without a close frame; alice reconnects and re-enters at once.
        first.abort()
        server.waitForConnections(1)
        try keepAlive(bob)  // no leave
        let second = try connect(server, user: "alice")
        try second.send(json: #"{"op":"presence.enter","id":1,"channel":"p/2"}"#)
        _ = try second.expect(op: "presence.entered")
        #expect(try presenceEvent(bob) == ("update", "alice", 1))
        // The old connection's presence is gone for good: no leave comes when its deadline passes
        // (alice's new connection keeps talking meanwhile, as a browser does).
        try advance(server, clock, by: 900, keeping: [bob, second])

        // One who does not come back leaves when the idle deadline (600 ms here) passes.
        let carol = try connect(server, user: "carol")
        try carol.send(json: #"{"op":"presence.enter","channel":"p/2"}"#)
        #expect(try presenceEvent(bob) == ("join", "carol", 1))
        carol.abort()
        server.waitForConnections(2)
        try advance(server, clock, by: 599, keeping: [bob, second])
        server.advance(clock, by: 1)
        #expect(try presenceEvent(bob) == ("leave", "carol", 0))

        // A clean close still leaves at once.
        try second.send(.close, [0x03, 0xE8])
        _ = try second.expectClose()
        #expect(try presenceEvent(bob) == ("leave", "alice", 0))
    }

    @Test func typingStartsOnceAndStopsAfterTheTTL() throws {
        let clock = ManualClock()
        let server = try devServer {
            $0.clock = clock
            // Only typing's 0.4 s TTL is under test: the clock's jumps must not look like silence.
            $0.pingIntervalMilliseconds = 60_000
            $0.idleTimeoutMilliseconds = 120_000
        }
        defer { server.stop() }
        let bob = try connect(server, user: "bob")
        try bob.send(json: #"{"op":"typing.subscribe","id":1,"channel":"comments/1"}"#)
        #expect((try bob.expect(op: "typing.snapshot")["typing"] as? [Any])?.isEmpty == true)
        let alice = try connect(server, user: "alice", name: "Alice")
        try alice.send(json: #"{"op":"typing.subscribe","id":1,"channel":"comments/1"}"#)
        _ = try alice.expect(op: "typing.snapshot")

        // Three signals 100 ms apart by the server's clock: one "started".
        for signal in 0..<3 {
            try alice.send(json: #"{"op":"typing.start","id":\#(signal),"channel":"comments/1","scope":"new"}"#)
            _ = try alice.expect(op: "typing.ok")
            server.advance(clock, by: 100)
        }
        let started = try bob.expect(op: "typing.event")
        #expect(started["action"] as? String == "started")
        #expect((started["typist"] as? [String: Any])?["name"] as? String == "Alice")

        // A newcomer learns who is typing now.
        let carol = try connect(server, user: "carol")
        try carol.send(json: #"{"op":"typing.subscribe","id":1,"channel":"comments/1"}"#)
        let now = try carol.expect(op: "typing.snapshot")["typing"] as? [[String: Any]]
        #expect(now?.first?["user"] as? String == "alice")

        // The last signal was at 200 ms: still typing at 599 ms, "stopped" at 600 ms.
        server.advance(clock, by: 299)
        try bob.send(json: #"{"op":"ping","id":9}"#)
        #expect(try bob.nextJSON()["op"] as? String == "pong", "no second started, no stop yet")
        server.advance(clock, by: 1)
        let stopped = try bob.expect(op: "typing.event")
        #expect(stopped["action"] as? String == "stopped")
        // The typist never receives its own typing events.
        try alice.send(json: #"{"op":"ping","id":10}"#)
        #expect(try alice.nextJSON()["op"] as? String == "pong")
    }

    @Test func typingIsRateLimitedAndNeedsAUser() throws {
        let server = try devServer()
        defer { server.stop() }
        let alice = try connect(server, user: "alice")
        for _ in 0..<30 { try alice.send(json: #"{"op":"typing.start","channel":"c"}"#) }
        var limited = 0
        while let frame = try alice.expectSilence(0.3) {
            if frame["code"] as? String == "rate_limited" { limited += 1 }
        }
        #expect(limited >= 15)
        let metrics = try TestHTTP.request(port: server.port, "GET", "/metrics").text
        #expect(metrics.contains("concord_rate_limited_total \(limited)"))

        let anonymous = try TestWebSocket(port: server.port)
        _ = try anonymous.expect(op: "welcome")
        try anonymous.send(json: #"{"op":"presence.enter","id":1,"channel":"p"}"#)
        #expect(try anonymous.expect(op: "error")["code"] as? String == "anonymous")
    }

    @Test func backendPresenceExpiresUnlessRefreshed() throws {
        let clock = ManualClock()
        let server = try devServer { $0.clock = clock }
        defer { server.stop() }
        let bob = try connect(server, user: "bob")
        try bob.send(json: #"{"op":"presence.subscribe","channel":"p/1"}"#)
        _ = try bob.expect(op: "presence.snapshot")
        let auth = ["Authorization": "Bearer test-key", "Content-Type": "application/json"]
        let posted = try TestHTTP.request(port: server.port, "POST", "/v1/presence/p/1", headers: auth, body: #"{"user":"dave","ttlMs":300}"#)
        #expect(posted.status == 200)
        #expect(try presenceEvent(bob) == ("join", "dave", 1))
        let count = try TestHTTP.request(port: server.port, "GET", "/v1/presence/p%2F1?count=1", headers: auth)
        #expect(count.json["total"] as? Int == 1 && count.json["members"] == nil)
        // Posted again at 200 ms: the 300 ms count from there, so dave is still present at 499 ms.
        try advance(server, clock, by: 200, keeping: [bob])
        let refreshed = try TestHTTP.request(port: server.port, "POST", "/v1/presence/p/1", headers: auth, body: #"{"user":"dave","ttlMs":300}"#)
        #expect(refreshed.status == 200)
        try keepAlive(bob)  // the same member, the same info: watchers hear nothing
        try advance(server, clock, by: 299, keeping: [bob])
        server.advance(clock, by: 1)
        #expect(try presenceEvent(bob) == ("leave", "dave", 0))
        for bad in [#"{"ttlMs":5}"#, #"{"user":"d","ttlMs":0}"#, #"{"user":"d","ttlMs":86400001}"#, "[]"] {
            #expect(try TestHTTP.request(port: server.port, "POST", "/v1/presence/p/1", headers: auth, body: bad).status == 400)
        }
        #expect(try TestHTTP.request(port: server.port, "GET", "/v1/presence/p/1").status == 401)
        let deleted = try TestHTTP.request(port: server.port, "DELETE", "/v1/presence/p/1?user=dave", headers: auth)
        #expect(deleted.json["removed"] as? Bool == false)
    }
}
