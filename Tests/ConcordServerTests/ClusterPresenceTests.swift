import Foundation
import Testing

/// Presence and typing with a user's tabs on different nodes of one Redis: one member, one typist,
/// and the same story told to watchers on every node.
@Suite("Cluster: presence and typing across nodes", .serialized)
struct ClusterPresenceTests {
    func presenceEvent(_ ws: TestWebSocket) throws -> (action: String, user: String, connections: Int, info: [String: String]) {
        let frame = try ws.expect(op: "presence.event")
        let member = frame["member"] as! [String: Any]
        return (frame["action"] as! String, member["user"] as! String, member["connections"] as! Int, member["info"] as? [String: String] ?? [:])
    }

    func enter(_ ws: TestWebSocket, _ channel: String, info: String) throws {
        try ws.send(json: #"{"op":"presence.enter","id":1,"channel":"\#(channel)","info":\#(info)}"#)
        _ = try ws.expect(op: "presence.entered")
    }

    @Test func tabsOnTwoNodesAreOneMemberToWatchersOnEveryNode() throws {
        let cluster = try Cluster(nodes: 3)
        defer { cluster.stop() }
        let (a, b, c) = (cluster.nodes[0].port, cluster.nodes[1].port, cluster.nodes[2].port)
        let channel = "presence/posts/1"
        var watchers: [TestWebSocket] = []
        for (port, user) in [(a, "wa"), (c, "wc")] {
            let ws = try Cluster.connect(port, user: user)
            try ws.send(json: #"{"op":"presence.subscribe","id":1,"channel":"\#(channel)"}"#)
            #expect(try ws.expect(op: "presence.snapshot")["total"] as? Int == 0)
            watchers.append(ws)
        }
        func everyWatcherHears(_ action: String, connections: Int, info: [String: String], _ what: String) throws {
            for (watcher, node) in zip(watchers, ["A", "C"]) {
                let event = try presenceEvent(watcher)
                #expect(event.action == action && event.user == "alice", "\(what), seen on \(node)")
                #expect(event.connections == connections && event.info == info, "\(what), seen on \(node)")
            }
        }

        let tabOnA = try Cluster.connect(a, user: "alice")
        try enter(tabOnA, channel, info: #"{"name":"Alice"}"#)
        try everyWatcherHears("join", connections: 1, info: ["name": "Alice"], "the first tab joins")

        let tabOnB = try Cluster.connect(b, user: "alice")
        try enter(tabOnB, channel, info: #"{"name":"Alice"}"#)
        try everyWatcherHears("update", connections: 2, info: ["name": "Alice"], "a second tab on another node is no second join")

        // Every node answers the same snapshot: one member with two connections.
        for port in [a, b, c] {
            let listed = try TestHTTP.request(port: port, "GET", "/v1/presence/presence%2Fposts%2F1", headers: Cluster.auth).json
            let members = listed["members"] as? [[String: Any]]
            #expect(listed["total"] as? Int == 1 && members?.count == 1)
            #expect(members?.first?["user"] as? String == "alice" && members?.first?["connections"] as? Int == 2)
        }

        try tabOnB.send(json: #"{"op":"presence.update","id":2,"channel":"\#(channel)","info":{"name":"Alice","field":"title"}}"#)
        _ = try tabOnB.expect(op: "presence.updated")
        try everyWatcherHears("update", connections: 2, info: ["name": "Alice", "field": "title"], "info changed on B")

        try tabOnA.send(.close, [0x03, 0xE8])
        _ = try tabOnA.expectClose()
        try everyWatcherHears("update", connections: 1, info: ["name": "Alice", "field": "title"], "one of two tabs closed: no leave")
        try tabOnB.send(.close, [0x03, 0xE8])
        _ = try tabOnB.expectClose()
        try everyWatcherHears("leave", connections: 0, info: ["name": "Alice", "field": "title"], "the last tab closed")
        for watcher in watchers { try watcher.expectNothingPending() }
    }

    /// Every node reads the one clock the test moves: typing TTLs and idle deadlines are decided
    /// without sleeping. (Redis's own command timeout is set past anything the test waits.)
    @Test func typingStartsOnceStopsOnAStopFromAnyNodeOrTheTTLAndSkipsTheTypistsTabs() throws {
        let clock = ManualClock()
        let cluster = try Cluster(nodes: 3) {
            $0.clock = clock
            $0.typingTTLMilliseconds = 400
            $0.pingIntervalMilliseconds = 60_000
            $0.idleTimeoutMilliseconds = 120_000
            $0.redisTimeoutMilliseconds = 60_000
        }
        defer { cluster.stop() }
        let (a, b, c) = (cluster.nodes[0].port, cluster.nodes[1].port, cluster.nodes[2].port)
        let channel = "comments/posts/1"
        func watch(_ ws: TestWebSocket) throws -> [[String: Any]] {
            try ws.send(json: #"{"op":"typing.subscribe","id":1,"channel":"\#(channel)"}"#)
            return try ws.expect(op: "typing.snapshot")["typing"] as? [[String: Any]] ?? []
        }
        func typingEvent(_ ws: TestWebSocket) throws -> (action: String, user: String, name: String?) {
            let frame = try ws.expect(op: "typing.event")
            let typist = frame["typist"] as! [String: Any]
            return (frame["action"] as! String, typist["user"] as! String, typist["name"] as? String)
        }
        let bob = try Cluster.connect(c, user: "bob")
        #expect(try watch(bob).isEmpty)
        let aliceOnA = try Cluster.connect(a, user: "alice", name: "Alice")
        let aliceOnB = try Cluster.connect(b, user: "alice", name: "Alice")
        _ = try watch(aliceOnA)
        _ = try watch(aliceOnB)

        // Three signals 100 ms apart from A: one "started", on C.
        for signal in 0..<3 {
            try aliceOnA.send(json: #"{"op":"typing.start","id":\#(signal),"channel":"\#(channel)"}"#)
            _ = try aliceOnA.expect(op: "typing.ok")
            cluster.advance(clock, by: 100)
        }
        #expect(try typingEvent(bob) == ("started", "alice", "Alice"))
        // A newcomer on B learns who is typing now, from Redis.
        let carol = try Cluster.connect(b, user: "carol")
        #expect(try watch(carol).map { $0["user"] as? String } == ["alice"])

        // An explicit stop from alice's tab on B stops what A's tab started.
        try aliceOnB.send(json: #"{"op":"typing.stop","id":5,"channel":"\#(channel)"}"#)
        _ = try aliceOnB.expect(op: "typing.ok")
        #expect(try typingEvent(bob) == ("stopped", "alice", "Alice"))
        #expect(try typingEvent(carol) == ("stopped", "alice", "Alice"))

        // Started again on B; the last signal at 0 ms: still typing at 399 ms, stopped at 400.
        try aliceOnB.send(json: #"{"op":"typing.start","id":6,"channel":"\#(channel)"}"#)
        _ = try aliceOnB.expect(op: "typing.ok")
        #expect(try typingEvent(bob) == ("started", "alice", "Alice"))
        #expect(try typingEvent(carol) == ("started", "alice", "Alice"))
        cluster.advance(clock, by: 399)
        try bob.expectNothingPending()
        cluster.advance(clock, by: 1)
        #expect(try typingEvent(bob) == ("stopped", "alice", "Alice"))
        #expect(try typingEvent(carol) == ("stopped", "alice", "Alice"))

        // The typist's own tabs, on both nodes, heard none of it.
        try aliceOnA.expectNothingPending()
        try aliceOnB.expectNothingPending()
        try bob.expectNothingPending()
    }

    @Test func aSilentClientOnOneNodeLeavesForWatchersOnAnotherAtTheIdleDeadline() throws {
        let clock = ManualClock()
        let cluster = try Cluster(nodes: 2) {
            $0.clock = clock
            $0.pingIntervalMilliseconds = 200
            $0.idleTimeoutMilliseconds = 600
            $0.redisTimeoutMilliseconds = 60_000
        }
        defer { cluster.stop() }
        let (a, b) = (cluster.nodes[0].port, cluster.nodes[1].port)
        let watcher = try Cluster.connect(a, user: "bob")
        try watcher.send(json: #"{"op":"presence.subscribe","channel":"p"}"#)
        _ = try watcher.expect(op: "presence.snapshot")
        let frozen = try Cluster.connect(b, user: "carol")
        try enter(frozen, "p", info: "null")
        #expect(try presenceEvent(watcher).action == "join")
        // From here `frozen` reads nothing and answers no ping; the watcher keeps talking.
        for _ in 0..<3 {
            cluster.advance(clock, by: 199)
            try watcher.expectNothingPending()
        }
        cluster.advance(clock, by: 2)
        try watcher.expectNothingPending()  // 599 ms: still there
        cluster.advance(clock, by: 1)
        let left = try presenceEvent(watcher)
        #expect(left.action == "leave" && left.user == "carol")
        _ = frozen
    }
}
