import ConcordTestSupport
import Foundation
import Testing

/// Three nodes on one Redis: an event published on any node, over HTTP or a WebSocket, reaches
/// every subscriber on every node that its filter admits, in the channel's one offset order; a
/// client recovers on whichever node it comes back to.
@Suite("Cluster: channels across nodes", .serialized)
struct ClusterChannelTests {
    /// One published event, as its publisher's answer numbered it.
    struct Published: Equatable {
        var offset: Int
        var type: String
        var id: Int
    }

    /// The next `event` push: its offset, type, first id and the `sub` it names (replays only).
    func event(_ ws: TestWebSocket) throws -> (offset: Int, type: String, id: String, sub: String?) {
        let frame = try ws.expect(op: "event")
        let event = frame["event"] as? [String: Any]
        let ids = (event?["payload"] as? [String: Any])?["ids"] as? [Any]
        return (frame["offset"] as! Int, event?["type"] as? String ?? "-", "\(ids?.first ?? "-")", frame["sub"] as? String)
    }

    func subscribe(_ ws: TestWebSocket, _ sub: String, channel: String, filter: String = "", since: (Int, String)? = nil) throws -> [String: Any] {
        let position = since.map { #","since":{"offset":\#($0.0),"epoch":"\#($0.1)"}"# } ?? ""
        try ws.send(json: #"{"op":"subscribe","id":1,"sub":"\#(sub)","channel":"\#(channel)"\#(filter)\#(position)}"#)
        return try ws.expect(op: "subscribed")
    }

    @Test func everySubscriberOnEveryNodeGetsWhatItsFilterAdmitsInOneOffsetOrder() throws {
        let cluster = try Cluster(nodes: 3)
        defer { cluster.stop() }
        let (a, b, c) = (cluster.nodes[0].port, cluster.nodes[1].port, cluster.nodes[2].port)
        let channel = "chat/room-1"
        let onlyCreated = try Cluster.connect(b, user: "bea")
        _ = try subscribe(onlyCreated, "s", channel: channel, filter: #","types":["created"]"#)
        let onlyOneAndTwo = try Cluster.connect(c, user: "cy")
        _ = try subscribe(onlyOneAndTwo, "s", channel: channel, filter: #","params":{"ids":[1,"2"]}"#)
        let everything = try Cluster.connect(c, user: "cat")
        _ = try subscribe(everything, "s", channel: channel)
        let onThePublishingNode = try Cluster.connect(a, user: "ann")
        _ = try subscribe(onThePublishingNode, "s", channel: channel, filter: #","types":["updated","deleted"]"#)

        // Half over HTTP to node A, half over a WebSocket on node B, at the same time: Redis
        // alone decides the order.
        let types = ["created", "updated", "deleted"]
        let total = 40
        let overHTTP = Mutexed<[Published]>([])
        let httpFailures = Mutexed(0)
        let backend = Thread {
            for i in stride(from: 0, to: total, by: 2) {
                let body = #"{"channel":"\#(channel)","type":"\#(types[i % 3])","payload":{"ids":[\#(i % 4)]}}"#
                guard let response = try? TestHTTP.publish(port: a, body), response.status == 200,
                    let offset = (response.json["results"] as? [[String: Any]])?.first?["offset"] as? Int
                else {
                    httpFailures.update { $0 += 1 }
                    continue
                }
                overHTTP.append(Published(offset: offset, type: types[i % 3], id: i % 4))
            }
        }
        backend.start()
        let publisher = try Cluster.connect(b, user: "pub")
        var sent: [Int: (type: String, id: Int)] = [:]
        for i in stride(from: 1, to: total, by: 2) {
            sent[i] = (types[i % 3], i % 4)
            try publisher.send(json: #"{"op":"publish","id":\#(i),"event":{"channel":"\#(channel)","type":"\#(types[i % 3])","payload":{"ids":[\#(i % 4)]}}}"#)
        }
        var published: [Published] = []
        for _ in 0..<sent.count {
            let reply = try publisher.expect(op: "published")
            let (type, id) = sent[reply["id"] as! Int]!
            published.append(Published(offset: reply["offset"] as! Int, type: type, id: id))
        }
        try Cluster.waitUntil("the HTTP publishes") { overHTTP.value.count + httpFailures.value == total / 2 }
        #expect(httpFailures.value == 0)
        published = (published + overHTTP.value).sorted { $0.offset < $1.offset }
        // Offsets are global per channel: one each, no gap, whichever node numbered it.
        #expect(published.map(\.offset) == Array(1...total))

        let subscribers: [(String, TestWebSocket, (Published) -> Bool)] = [
            ("types [created] on B", onlyCreated, { $0.type == "created" }),
            // Refine's rule: `created` passes an id filter (a new row may belong in the list).
            ("ids [1, 2] on C", onlyOneAndTwo, { $0.type == "created" || $0.id == 1 || $0.id == 2 }),
            ("everything on C", everything, { _ in true }),
            ("types [updated, deleted] on A", onThePublishingNode, { $0.type != "created" }),
        ]
        for (name, ws, admits) in subscribers {
            let wanted = published.filter(admits)
            var received: [Published] = []
            for _ in wanted {
                let pushed = try event(ws)
                #expect(pushed.sub == nil, "\(name): a live event names no subscription")
                received.append(Published(offset: pushed.offset, type: pushed.type, id: Int(pushed.id) ?? -1))
            }
            #expect(received == wanted, "\(name)")
            #expect(try ws.expectSilence(0.2) == nil, "\(name): nothing more, nothing twice")
        }
    }

    @Test func aClientRecoversOnAnotherNodeExactlyWhatItMissed() throws {
        let cluster = try Cluster(nodes: 3)
        defer { cluster.stop() }
        let (a, b, c) = (cluster.nodes[0].port, cluster.nodes[1].port, cluster.nodes[2].port)
        func publish(_ port: Int, _ id: Int) throws {
            let response = try TestHTTP.publish(port: port, #"{"channel":"resources/posts","type":"updated","payload":{"ids":[\#(id)]}}"#)
            #expect(response.status == 200)
        }
        let first = try Cluster.connect(a, user: "alice")
        let start = try subscribe(first, "s1", channel: "resources/posts", filter: #","params":{"ids":[1,2]}"#)
        let epoch = try #require(start["epoch"] as? String)
        try publish(b, 1)
        #expect(try event(first) == (1, "updated", "1", nil))
        first.abort()  // the network goes, no close frame

        for id in [1, 3, 2] { try publish(c, id) }  // offsets 2, 3, 4; id 3 is not admitted
        let back = try Cluster.connect(b, user: "alice")
        let reply = try subscribe(back, "s1", channel: "resources/posts", filter: #","params":{"ids":[1,2]}"#, since: (1, epoch))
        #expect(reply["recovered"] as? Bool == true)
        #expect(reply["replayed"] as? Int == 2)
        #expect(reply["offset"] as? Int == 4 && reply["epoch"] as? String == epoch, "the stream's position is the same on every node")
        #expect(try event(back) == (2, "updated", "1", "s1"))
        #expect(try event(back) == (4, "updated", "2", "s1"))
        try publish(a, 2)
        #expect(try event(back) == (5, "updated", "2", nil), "then live, and nothing twice")
        #expect(try back.expectSilence(0.2) == nil)

        // A position no node ever gave is refused plainly, not answered with a partial replay.
        let stranger = try Cluster.connect(c, user: "bob")
        let refused = try subscribe(stranger, "s1", channel: "resources/posts", since: (1, "gone"))
        #expect(refused["recovered"] as? Bool == false && refused["reason"] as? String == "epoch_changed")
        #expect(try stranger.expectSilence(0.2) == nil)
    }
}
