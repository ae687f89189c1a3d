import ConcordTestSupport
import Foundation
import Testing

/// What nodes sharing one Redis do when something fails: a node killed with SIGKILL, Redis
/// restarted, Redis unresponsive for a while, Redis missing or not durable at start. These wait on
/// real processes (a lapsing lease, Redis coming back), each with a deadline.
@Suite("Cluster: failures", .serialized)
struct ClusterFailureTests {
    /// The real binary as a node of `cluster`, in development mode.
    func processNode(_ cluster: Cluster, _ extra: [String] = ["--redis-weak-durability"]) throws -> ServerProcess {
        try ServerProcess(arguments: ["--port", "0", "--api-key", "test-key", "--dev", "--no-demo", "--redis", cluster.url] + extra)
    }

    @Test func theMembersAndTypistsOfAKilledNodeLeaveOnTheOthersWithinTenSeconds() throws {
        let cluster = try Cluster(nodes: 1)
        defer { cluster.stop() }
        let doomed = try processNode(cluster)
        defer { doomed.stop() }
        // Bob watches first, so that he hears alice arrive (a typing signal is acknowledged before
        // it reaches Redis: a snapshot taken right after could miss it).
        let bob = try Cluster.connect(cluster.nodes[0].port, user: "bob")
        try bob.send(json: #"{"op":"presence.subscribe","id":1,"channel":"presence/doc/1"}"#)
        _ = try bob.expect(op: "presence.snapshot")
        try bob.send(json: #"{"op":"typing.subscribe","id":2,"channel":"comments/doc/1"}"#)
        _ = try bob.expect(op: "typing.snapshot")

        let alice = try Cluster.connect(doomed.port, user: "alice")
        try alice.send(json: #"{"op":"presence.enter","id":1,"channel":"presence/doc/1"}"#)
        _ = try alice.expect(op: "presence.entered")
        try alice.send(json: #"{"op":"typing.start","id":2,"channel":"comments/doc/1"}"#)
        _ = try alice.expect(op: "typing.ok")
        var heard: Set<String> = []
        while heard.count < 2 {
            let frame = try bob.nextJSON(timeout: 5)
            switch frame["op"] as? String {
            case "presence.event":
                #expect(frame["action"] as? String == "join" && (frame["member"] as? [String: Any])?["user"] as? String == "alice")
                heard.insert("join")
            case "typing.event":
                #expect(frame["action"] as? String == "started" && (frame["typist"] as? [String: Any])?["user"] as? String == "alice")
                heard.insert("started")
            default:
                Issue.record("unexpected \(frame)")
            }
        }

        doomed.kill9()
        let killed = Date()
        var left: Double?, stopped: Double?
        while left == nil || stopped == nil {
            let frame = try bob.nextJSON(timeout: max(0.01, 12 - Date().timeIntervalSince(killed)))
            switch frame["op"] as? String {
            case "presence.event":
                #expect(frame["action"] as? String == "leave" && (frame["member"] as? [String: Any])?["user"] as? String == "alice")
                left = Date().timeIntervalSince(killed)
            case "typing.event":
                #expect(frame["action"] as? String == "stopped" && (frame["typist"] as? [String: Any])?["user"] as? String == "alice")
                stopped = Date().timeIntervalSince(killed)
            default:
                Issue.record("unexpected \(frame)")
            }
        }
        #expect(left! < 10, "alice left \(left!) s after her node was killed")
        #expect(stopped! < 10, "alice stopped typing \(stopped!) s after her node was killed")
        let listed = try TestHTTP.request(port: cluster.nodes[0].port, "GET", "/v1/presence/presence%2Fdoc%2F1", headers: Cluster.auth)
        #expect(listed.json["total"] as? Int == 0)
    }

    @Test func aNodeRefusesToStartWithoutRedisOrOnARedisThatMayLoseAcknowledgedWrites() throws {
        let nothing = try RedisServer.freePort()
        let unreachable = try #require(try ServerProcess.refusal(arguments: ["--port", "0", "--redis", "redis://127.0.0.1:\(nothing)"]))
        #expect(unreachable.status != 0)
        #expect(unreachable.output.contains("cannot reach Redis at redis://127.0.0.1:\(nothing)"), "\(unreachable.output)")

        let cluster = try Cluster(nodes: 0)  // a Redis with its defaults: no append-only file
        defer { cluster.stop() }
        let weak = try #require(try ServerProcess.refusal(arguments: ["--port", "0", "--redis", cluster.url]))
        #expect(weak.status != 0)
        #expect(weak.output.contains("appendonly no") && weak.output.contains("--redis-weak-durability"), "\(weak.output)")
        let accepted = try processNode(cluster)
        defer { accepted.stop() }
        #expect(Cluster.readiness(accepted.port).status == 200)
        // And it stops on SIGTERM: its Redis connections do not keep it running.
        let client = try Cluster.connect(accepted.port, user: "alice")
        kill(accepted.process.processIdentifier, SIGTERM)
        #expect(try client.expect(op: "reconnect")["afterMs"] is Int)
        try Cluster.waitUntil("the node to exit after SIGTERM", seconds: 5) { !accepted.process.isRunning }
        #expect(accepted.process.terminationReason == .exit && accepted.process.terminationStatus == 0)

        let durable = try Cluster(nodes: 0, durable: true)
        defer { durable.stop() }
        let node = try processNode(durable, [])
        defer { node.stop() }
        #expect(Cluster.readiness(node.port).status == 200)
    }

    @Test func anUnresponsiveRedisIsReportedRefusedFastAndServedAgainWhenItAnswers() throws {
        let cluster = try Cluster(nodes: 2) { $0.redisTimeoutMilliseconds = 500 }
        defer {
            cluster.redis.pause(false)
            cluster.stop()
        }
        let (a, b) = (cluster.nodes[0].port, cluster.nodes[1].port)
        let subscriber = try Cluster.connect(b, user: "sam")
        try subscriber.send(json: #"{"op":"subscribe","id":1,"sub":"s","channel":"chat/ops"}"#)
        _ = try subscriber.expect(op: "subscribed")
        let publish = #"{"channel":"chat/ops","type":"created","payload":{"ids":[1]}}"#
        #expect(try TestHTTP.publish(port: a, publish).status == 200)
        #expect(try subscriber.expect(op: "event")["offset"] as? Int == 1)
        for port in [a, b] { #expect(Cluster.readiness(port).status == 200) }

        // SIGSTOP: Redis keeps its connections and answers nothing, for about 5 s.
        cluster.redis.pause(true)
        let paused = Date()
        try Cluster.waitUntil("both nodes not ready", seconds: 4) { Cluster.readiness(a).status == 503 && Cluster.readiness(b).status == 503 }
        #expect(Cluster.readiness(a).reason?.contains("Redis") == true)
        let editor = try Cluster.connect(b, user: "eve")
        var refusals = 0
        while Date().timeIntervalSince(paused) < 5 {
            // Every publish and commit is refused at once, never acknowledged; readiness stays 503.
            let started = Date()
            let refused = try TestHTTP.publish(port: a, publish)
            #expect(refused.status == 503 && (refused.json["error"] as? [String: Any])?["code"] as? String == "unavailable")
            let commit = try TestHTTP.request(
                port: b, "POST", "/v1/records/commit", headers: Cluster.auth,
                body: #"{"channel":"resources/posts","record":1,"version":{},"fields":["title"]}"#)
            #expect(commit.status == 503)
            #expect(Date().timeIntervalSince(started) < 0.5, "refused fast")
            for port in [a, b] { #expect(Cluster.readiness(port).status == 503, "still not ready after \(Date().timeIntervalSince(paused)) s") }
            refusals += 1
            usleep(200_000)
        }
        #expect(refusals > 5)
        // WebSocket clients stay connected: their commands are answered, with `unavailable`.
        try subscriber.expectNothingPending()
        try editor.send(json: #"{"op":"record.commit","id":3,"channel":"resources/posts","record":1,"version":{},"fields":["title"]}"#)
        #expect(try editor.expect(op: "error")["code"] as? String == "unavailable")
        try editor.send(json: #"{"op":"publish","id":4,"event":\#(publish)}"#)
        #expect(try editor.expect(op: "error")["code"] as? String == "unavailable")

        cluster.redis.pause(false)
        try Cluster.waitUntil("both nodes ready again") { Cluster.readiness(a).status == 200 && Cluster.readiness(b).status == 200 }
        let published = try TestHTTP.publish(port: a, publish)
        #expect(published.status == 200)
        #expect((published.json["results"] as? [[String: Any]])?.first?["offset"] as? Int == 2, "nothing refused was published")
        #expect(try subscriber.expect(op: "event")["offset"] as? Int == 2)
        let record = try TestHTTP.request(port: a, "GET", "/v1/records?channel=resources/posts&id=1", headers: Cluster.auth)
        #expect((record.json["version"] as? [String: Any])?.isEmpty == true, "no refused commit was written")
    }

    @Test func aRestartedDurableRedisLosesNoAcknowledgedCommitAndClientsRecover() throws {
        let cluster = try Cluster(nodes: 2, durable: true)
        defer { cluster.stop() }
        let (a, b) = (cluster.nodes[0].port, cluster.nodes[1].port)
        let channel = "resources/posts"
        let live = try Cluster.connect(b, user: "liv")
        try live.send(json: #"{"op":"subscribe","id":1,"sub":"s","channel":"\#(channel)"}"#)
        _ = try live.expect(op: "subscribed")
        let away = try Cluster.connect(a, user: "abe")
        try away.send(json: #"{"op":"subscribe","id":1,"sub":"s","channel":"\#(channel)"}"#)
        let position = try away.expect(op: "subscribed")
        let epoch = try #require(position["epoch"] as? String)
        away.abort()

        let commits = 20
        for record in 1...commits {
            let response = try TestHTTP.request(
                port: record % 2 == 0 ? a : b, "POST", "/v1/records/commit", headers: Cluster.auth,
                body: #"{"channel":"\#(channel)","record":\#(record),"version":{},"fields":{"title":"t"},"actor":"bob"}"#)
            #expect(response.status == 200)
        }
        for offset in 1...commits { #expect(try live.expect(op: "event")["offset"] as? Int == offset) }

        // Killed right after the last acknowledgement, as in a crash, and started on its files.
        try cluster.restartRedis()
        try Cluster.waitUntil("both nodes ready again") { Cluster.readiness(a).status == 200 && Cluster.readiness(b).status == 200 }
        for record in 1...commits {
            let read = try TestHTTP.request(port: record % 2 == 0 ? b : a, "GET", "/v1/records?channel=\(channel)&id=\(record)", headers: Cluster.auth)
            #expect(read.json["version"] as? [String: Int] == ["bob": 1], "record \(record) was acknowledged before the restart")
        }
        let stale = try TestHTTP.request(
            port: a, "POST", "/v1/records/commit", headers: Cluster.auth,
            body: #"{"channel":"\#(channel)","record":1,"version":{},"fields":{"title":"x"},"actor":"alice"}"#)
        #expect(stale.status == 409, "a commit after the restart is checked against the writes before it")

        // The stream went on where it was: the live subscriber gets the next offset, and the one
        // that was away gets every event it missed on whichever node it comes back to.
        #expect(try TestHTTP.publish(port: a, #"{"channel":"\#(channel)","type":"created","payload":{"ids":[99]}}"#).status == 200)
        #expect(try live.expect(op: "event")["offset"] as? Int == commits + 1)
        let back = try Cluster.connect(b, user: "abe")
        try back.send(json: #"{"op":"subscribe","id":2,"sub":"s","channel":"\#(channel)","since":{"offset":0,"epoch":"\#(epoch)"}}"#)
        let recovered = try back.expect(op: "subscribed")
        #expect(recovered["recovered"] as? Bool == true && recovered["replayed"] as? Int == commits + 1)
        for offset in 1...(commits + 1) { #expect(try back.expect(op: "event")["offset"] as? Int == offset) }
        #expect(try live.expectSilence(0.2) == nil)
    }

    @Test func aRedisRestartedEmptyAsksSubscribersToComeBackAndTellsThemToRefetch() throws {
        let cluster = try Cluster(nodes: 2)
        defer { cluster.stop() }
        let (a, b) = (cluster.nodes[0].port, cluster.nodes[1].port)
        let channel = "resources/posts"
        let live = try Cluster.connect(b, user: "liv")
        try live.send(json: #"{"op":"subscribe","id":1,"sub":"s","channel":"\#(channel)"}"#)
        let epoch = try #require(try live.expect(op: "subscribed")["epoch"] as? String)
        for id in 1...3 { #expect(try TestHTTP.publish(port: a, #"{"channel":"\#(channel)","type":"updated","payload":{"ids":[\#(id)]}}"#).status == 200) }
        for offset in 1...3 { #expect(try live.expect(op: "event")["offset"] as? Int == offset) }

        // Without an append-only file Redis comes back with nothing: the stream the subscriber
        // knew is gone, and it is told so rather than left on a stream that silently began again.
        try cluster.restartRedis()
        #expect(try live.expect(op: "reconnect", timeout: 10)["afterMs"] is Int)
        #expect(try live.expectClose() == 4012)
        try Cluster.waitUntil("both nodes ready again") { Cluster.readiness(a).status == 200 && Cluster.readiness(b).status == 200 }
        let back = try Cluster.connect(a, user: "liv")
        try back.send(json: #"{"op":"subscribe","id":2,"sub":"s","channel":"\#(channel)","since":{"offset":3,"epoch":"\#(epoch)"}}"#)
        let reply = try back.expect(op: "subscribed")
        #expect(reply["recovered"] as? Bool == false && reply["reason"] as? String == "epoch_changed")
        #expect(reply["epoch"] as? String != epoch)
        #expect(try TestHTTP.publish(port: b, #"{"channel":"\#(channel)","type":"updated","payload":{"ids":[4]}}"#).status == 200)
        #expect(try back.expect(op: "event")["offset"] as? Int == 1)
    }
}
