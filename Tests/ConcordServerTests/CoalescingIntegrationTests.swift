import ConcordServer
import Foundation
import Testing

/// Coalescing subscriptions over real sockets, on a clock the test moves.
@Suite("Coalescing over real sockets", .serialized)
struct CoalescingIntegrationTests {
    func event(_ ws: TestWebSocket) throws -> (sub: String?, offset: Int, type: String, ids: [String]?, coalesced: Int?) {
        let frame = try ws.expect(op: "event")
        let event = frame["event"] as! [String: Any]
        let ids = ((event["payload"] as? [String: Any])?["ids"] as? [Any])?.map { "\($0)" }
        let coalesced = ((event["meta"] as? [String: Any])?["concord"] as? [String: Any])?["coalesced"] as? Int
        return (frame["sub"] as? String, frame["offset"] as! Int, event["type"] as! String, ids, coalesced)
    }

    func burst(_ server: TestServer, from: Int, count: Int) throws {
        let events = (from..<from + count).map { n in
            #"{"channel":"resources/posts","type":"\#(n.isMultiple(of: 4) ? "deleted" : "updated")","payload":{"ids":[\#(n % 5)]}}"#
        }
        #expect(try TestHTTP.publish(port: server.port, "[" + events.joined(separator: ",") + "]").status == 200)
    }

    @Test func aBurstReachesACoalescingSubscriptionAsOneEventPerTypePerWindow() throws {
        let clock = ManualClock()
        let server = try TestServer {
            $0.clock = clock
            $0.pingIntervalMilliseconds = 60_000
            $0.idleTimeoutMilliseconds = 120_000
        }
        defer { server.stop() }
        let ws = try TestWebSocket(port: server.port)
        _ = try ws.expect(op: "welcome")
        try ws.send(json: #"{"op":"subscribe","id":1,"sub":"list","channel":"resources/posts","coalesce":500}"#)
        _ = try ws.expect(op: "subscribed")
        try ws.send(json: #"{"op":"subscribe","id":2,"sub":"one","channel":"resources/posts","params":{"ids":[1]}}"#)
        _ = try ws.expect(op: "subscribed")

        try burst(server, from: 1, count: 100)
        // The plain subscription gets each event it admits live (ids 1: n % 5 == 1), unmerged; the
        // coalescing one gets the first event at once, naming it, after that event's live copy.
        var live: [Int] = []
        var coalesced: [(String?, Int, Int?)] = []
        for _ in 0..<21 {
            let frame = try event(ws)
            if frame.sub == nil { live.append(frame.offset) } else { coalesced.append((frame.sub, frame.offset, frame.coalesced)) }
        }
        #expect(live == Array(stride(from: 1, through: 100, by: 5)))
        #expect(coalesced.count == 1 && coalesced.first?.0 == "list" && coalesced.first?.1 == 1 && coalesced.first?.2 == nil)
        try ws.send(json: #"{"op":"ping","id":3}"#)
        _ = try ws.expect(op: "pong")  // nothing more until the window ends
        server.advance(clock, by: 499)
        try ws.send(json: #"{"op":"ping","id":4}"#)
        _ = try ws.expect(op: "pong")
        server.advance(clock, by: 1)
        let updated = try event(ws), deleted = try event(ws)
        #expect(updated.sub == "list" && updated.type == "updated" && updated.coalesced == 74 && updated.offset == 100)
        #expect(Set(updated.ids ?? []) == ["0", "1", "2", "3", "4"])
        #expect(deleted.sub == "list" && deleted.type == "deleted" && deleted.coalesced == 25 && deleted.offset == 100)

        let metrics = try TestHTTP.request(port: server.port, "GET", "/metrics").text
        #expect(metrics.contains("concord_subscriptions 2"))
        // Unsubscribing ends the window: nothing more arrives for it.
        try burst(server, from: 101, count: 2)
        try ws.send(json: #"{"op":"unsubscribe","id":5,"sub":"list"}"#)
        while try ws.nextJSON()["op"] as? String != "unsubscribed" {}
        server.advance(clock, by: 500)
        try ws.send(json: #"{"op":"ping","id":6}"#)
        _ = try ws.expect(op: "pong")
    }

    @Test func aCoalescingSubscriptionRecoversWhatItMissedMerged() throws {
        let server = try TestServer()
        defer { server.stop() }
        let first = try TestWebSocket(port: server.port)
        _ = try first.expect(op: "welcome")
        try first.send(json: #"{"op":"subscribe","sub":"list","channel":"resources/posts","coalesce":500}"#)
        let epoch = try first.expect(op: "subscribed")["epoch"] as! String
        first.abort()
        try burst(server, from: 1, count: 40)
        let back = try TestWebSocket(port: server.port)
        _ = try back.expect(op: "welcome")
        try back.send(json: #"{"op":"subscribe","sub":"list","channel":"resources/posts","coalesce":500,"since":{"offset":0,"epoch":"\#(epoch)"}}"#)
        let reply = try back.expect(op: "subscribed")
        #expect(reply["recovered"] as? Bool == true && reply["replayed"] as? Int == 2)
        let updated = try event(back), deleted = try event(back)
        #expect(updated.type == "updated" && updated.coalesced == 30 && updated.offset == 40 && updated.sub == "list")
        #expect(deleted.type == "deleted" && deleted.coalesced == 10 && deleted.offset == 40)

        for bad in ["9", "60001", "\"500\"", "1.5"] {
            try back.send(json: #"{"op":"subscribe","id":7,"sub":"x","channel":"c","coalesce":\#(bad)}"#)
            let error = try back.expect(op: "error")
            #expect(error["code"] as? String == "invalid_frame", "coalesce \(bad)")
        }
    }
}
