import ConcordCore
import ConcordServer
import Foundation
import Synchronization
import Testing

/// Real server, real sockets: a subscriber that comes back gets exactly what it missed, in order,
/// once, or is told to refetch; never a silent gap.
@Suite("Recovery over real sockets", .serialized)
struct RecoveryIntegrationTests {
    func client(_ server: TestServer) throws -> TestWebSocket {
        let ws = try TestWebSocket(port: server.port)
        _ = try ws.expect(op: "welcome")
        return ws
    }

    func publish(_ server: TestServer, _ id: Int, channel: String = "resources/posts") throws {
        let response = try TestHTTP.publish(port: server.port, #"{"channel":"\#(channel)","type":"updated","payload":{"ids":[\#(id)]}}"#)
        #expect(response.status == 200)
    }

    /// Subscribes `s1` on resources/posts, from `since` when given, and returns the reply.
    func subscribe(_ ws: TestWebSocket, since: (Int, String)? = nil, ids: String? = nil) throws -> [String: Any] {
        let params = ids.map { #","params":{"ids":\#($0)}"# } ?? ""
        let position = since.map { #","since":{"offset":\#($0.0),"epoch":"\#($0.1)"}"# } ?? ""
        try ws.send(json: #"{"op":"subscribe","id":1,"sub":"s1","channel":"resources/posts"\#(params)\#(position)}"#)
        return try ws.expect(op: "subscribed")
    }

    /// The next event push: its offset, its first id, and the `sub` it names (replays only).
    func event(_ ws: TestWebSocket) throws -> (offset: Int, id: String, sub: String?) {
        let frame = try ws.expect(op: "event")
        let ids = ((frame["event"] as? [String: Any])?["payload"] as? [String: Any])?["ids"] as? [Any]
        return (frame["offset"] as! Int, "\(ids?.first ?? "-")", frame["sub"] as? String)
    }

    @Test func aClientCutOffDuringABurstGetsWhatItsFilterAdmitsThenLiveEvents() throws {
        let server = try TestServer()
        defer { server.stop() }
        let first = try client(server)
        let start = try subscribe(first, ids: "[1,2]")
        #expect(start["recovered"] == nil, "no position given, no recovery")
        let epoch = try #require(start["epoch"] as? String)
        try publish(server, 1)
        #expect(try event(first) == (1, "1", nil))
        first.abort()  // the network goes, no close frame

        for id in [1, 3, 2] { try publish(server, id) }  // offsets 2, 3, 4; id 3 is not admitted
        let back = try client(server)
        let reply = try subscribe(back, since: (1, epoch), ids: "[1,2]")
        #expect(reply["recovered"] as? Bool == true)
        #expect(reply["replayed"] as? Int == 2)
        #expect(reply["offset"] as? Int == 4 && reply["epoch"] as? String == epoch)
        #expect(try event(back) == (2, "1", "s1"))
        #expect(try event(back) == (4, "2", "s1"))
        try publish(server, 2)
        #expect(try event(back) == (5, "2", nil), "then live, and nothing twice")
        #expect(try back.expectSilence(0.1) == nil)

        let metrics = try TestHTTP.request(port: server.port, "GET", "/metrics").text
        #expect(metrics.contains("concord_recoveries_total 1"))
        #expect(metrics.contains("concord_events_replayed_total 2"))
        #expect(metrics.contains("concord_history_events 5"))
    }

    @Test func whatCannotBeRecoveredIsSaidAndNothingIsReplayed() throws {
        let server = try TestServer { $0.history.rules = [.init(ChannelPattern("resources/*"), HistoryLimits(maxEvents: 2, maxAgeMilliseconds: 60_000))] }
        defer { server.stop() }
        let ws = try client(server)
        let epoch = try #require(try subscribe(ws)["epoch"] as? String)
        for id in 1...3 { try publish(server, id) }
        for reason in [("epoch_changed", (0, "gone")), ("history_too_short", (0, epoch)), ("position_ahead", (9, epoch))] {
            try ws.send(json: #"{"op":"unsubscribe","sub":"s1"}"#)
            // Live events of the first subscription may be read before the reply.
            while try ws.nextJSON()["op"] as? String != "unsubscribed" {}
            let reply = try subscribe(ws, since: reason.1)
            #expect(reply["recovered"] as? Bool == false)
            #expect(reply["reason"] as? String == reason.0)
            #expect(reply["replayed"] == nil)
        }
        #expect(try ws.expectSilence(0.1) == nil, "no partial replay")
        let metrics = try TestHTTP.request(port: server.port, "GET", "/metrics").text
        #expect(metrics.contains("concord_recoveries_failed_total 3"))
        #expect(metrics.contains("concord_history_events 2"))

        for bad in [#"{"offset":-1,"epoch":"e"}"#, #"{"offset":1}"#, #"{"offset":1,"epoch":""}"#, #""1""#] {
            try ws.send(json: #"{"op":"subscribe","id":2,"sub":"s2","channel":"c","since":\#(bad)}"#)
            let error = try ws.expect(op: "error")
            #expect(error["code"] as? String == "invalid_frame", "since \(bad)")
        }
    }

    @Test func aClientThatKeepsReconnectingWhilePublishesGoOnSeesEveryEventOnceInOrder() throws {
        let server = try TestServer()
        defer { server.stop() }
        let total = 300
        let published = Atomic(0)
        let publisher = Thread {
            for id in 1...total {
                _ = try? TestHTTP.publish(port: server.port, #"{"channel":"resources/posts","type":"updated","payload":{"ids":[\#(id)]}}"#)
                published.store(id, ordering: .relaxed)
            }
        }
        var seen: [Int] = []
        // The first subscription is made before anything is published: every event is to be seen.
        let first = try client(server)
        let start = try subscribe(first)
        var position = (start["offset"] as! Int, start["epoch"] as! String)
        first.abort()
        var connections = 1
        publisher.start()
        while seen.last != total, connections < 1_000 {
            connections += 1
            let ws = try client(server)
            let reply = try subscribe(ws, since: position)
            #expect(reply["recovered"] as? Bool == true, "recovery \(connections)")
            // Read a few events (replayed, then live), then drop the connection without a close.
            for _ in 0..<Int.random(in: 1...8) {
                guard let frame = try ws.expectSilence(0.2) else { break }
                if frame["op"] as? String == "event" {
                    seen.append(frame["offset"] as! Int)
                    position.0 = frame["offset"] as! Int
                }
            }
            ws.abort()
        }
        #expect(published.load(ordering: .relaxed) == total)
        #expect(seen == Array(1...total), "\(connections) connections")
        #expect(connections > 10)
    }

    @Test func historyOverHTTPAnswersTheKeptEvents() throws {
        let server = try TestServer()
        defer { server.stop() }
        for id in 1...3 { try publish(server, id) }
        let auth = ["Authorization": "Bearer test-key"]
        let all = try TestHTTP.request(port: server.port, "GET", "/v1/history?channel=resources/posts", headers: auth)
        #expect(all.status == 200)
        #expect((all.json["events"] as? [[String: Any]])?.map { $0["offset"] as! Int } == [1, 2, 3])
        #expect(all.json["offset"] as? Int == 3 && all.json["complete"] == nil)
        let epoch = try #require(all.json["epoch"] as? String)
        let after = try TestHTTP.request(port: server.port, "GET", "/v1/history?channel=resources/posts&since=1&epoch=\(epoch)&limit=1", headers: auth)
        #expect((after.json["events"] as? [[String: Any]])?.map { $0["offset"] as! Int } == [2])
        #expect(after.json["complete"] as? Bool == false, "cut at the limit")
        let event = (after.json["events"] as? [[String: Any]])?.first
        #expect(event?["op"] as? String == "event" && (event?["event"] as? [String: Any])?["type"] as? String == "updated")

        #expect(try TestHTTP.request(port: server.port, "GET", "/v1/history?channel=resources/posts").status == 401)
        for query in ["", "?channel=", "?channel=a&since=1", "?channel=a&since=x&epoch=e", "?channel=a&limit=-1"] {
            let bad = try TestHTTP.request(port: server.port, "GET", "/v1/history" + query, headers: auth)
            #expect(bad.status == 400, "\(query)")
        }
        let post = try TestHTTP.request(
            port: server.port, "POST", "/v1/history?channel=a", headers: auth.merging(["Content-Type": "application/json"]) { $1 }, body: "{}")
        #expect(post.status == 405)
    }

    @Test func aHistoryPageHoldsAtMost1000Events() throws {
        let server = try TestServer { $0.history.rules = [.init(ChannelPattern("*"), HistoryLimits(maxEvents: 2_000, maxAgeMilliseconds: 60_000))] }
        defer { server.stop() }
        let batch = "[" + (0..<1_000).map { _ in #"{"channel":"big","type":"t"}"# }.joined(separator: ",") + "]"
        for _ in 0..<2 { #expect(try TestHTTP.publish(port: server.port, batch).status == 200) }
        let auth = ["Authorization": "Bearer test-key"]
        for query in ["", "&limit=5000"] {
            let page = try TestHTTP.request(port: server.port, "GET", "/v1/history?channel=big" + query, headers: auth)
            let offsets = (page.json["events"] as? [[String: Any]])?.map { $0["offset"] as! Int }
            #expect(offsets == Array(1...1_000), "limit \(query)")
            #expect(page.json["offset"] as? Int == 2_000)
        }
    }

    @Test func onShutdownEveryClientIsToldWhenToComeBackThenClosedWith4012() throws {
        let server = try TestServer { $0.drainWindowMilliseconds = 800 }
        defer { server.stop() }
        let clients = try (0..<20).map { _ in try client(server) }
        server.requestStop()
        var hints: [Int] = []
        for ws in clients {
            let hint = try ws.expect(op: "reconnect")
            hints.append(try #require(hint["afterMs"] as? Int))
            #expect(try ws.expectClose() == 4012)
        }
        #expect(hints.allSatisfy { (0...800).contains($0) })
        #expect(Set(hints).count > 1, "spread over the window: \(hints)")
    }

    // MARK: Across a restart, with a data directory

    func subscribe(port: Int, since: (Int, String)? = nil) throws -> (TestWebSocket, [String: Any]) {
        let ws = try TestWebSocket(port: port)
        _ = try ws.expect(op: "welcome")
        return (ws, try subscribe(ws, since: since))
    }

    func publish(port: Int, _ id: Int) throws {
        let response = try TestHTTP.publish(port: port, #"{"channel":"resources/posts","type":"updated","payload":{"ids":[\#(id)]}}"#)
        #expect(response.status == 200)
    }

    /// A server on a data directory, stopped by `stop` after a client saw event 1, then started
    /// again and given event 2; answers the reply to a subscribe from offset 1 and what followed.
    func restart(_ stop: (ServerProcess) -> Void) throws -> (reply: [String: Any], epoch: String, back: TestWebSocket) {
        let directory = try TestDirectory.make("history")
        defer { try? FileManager.default.removeItem(at: directory) }
        var server = try ServerProcess(dataDirectory: directory)
        let (first, start) = try subscribe(port: server.port)
        try publish(port: server.port, 1)
        #expect(try event(first).offset == 1)
        let epoch = try #require(start["epoch"] as? String)
        stop(server)
        server = try ServerProcess(dataDirectory: directory)
        defer { server.kill9() }
        // Published while the client was away, after the restart.
        try publish(port: server.port, 2)
        let (back, reply) = try subscribe(port: server.port, since: (1, epoch))
        return (reply, epoch, back)
    }

    @Test func aGracefulRestartKeepsStreamsSoClientsRecoverAcrossIt() throws {
        let (reply, epoch, back) = try restart { $0.stop() }  // SIGTERM: the journal is closed cleanly
        #expect(reply["recovered"] as? Bool == true)
        #expect(reply["epoch"] as? String == epoch && reply["offset"] as? Int == 2)
        #expect(try event(back) == (2, "2", "s1"))
    }

    @Test func afterAKillClientsAreToldToRefetchNeverLeftWithASilentGap() throws {
        // kill -9: events may have been numbered and delivered without reaching the disk.
        let (reply, epoch, _) = try restart { $0.kill9() }
        #expect(reply["recovered"] as? Bool == false)
        #expect(reply["reason"] as? String == "epoch_changed")
        #expect(reply["epoch"] as? String != epoch)
    }
}
