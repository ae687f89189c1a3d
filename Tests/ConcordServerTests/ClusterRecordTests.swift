import Foundation
import Testing

/// Editors of one record on different nodes of one Redis: a commit checked on any node sees every
/// write acknowledged on any node, and stale warnings reach editors wherever they are.
@Suite("Cluster: records and conflicts across nodes", .serialized)
struct ClusterRecordTests {
    let channel = "resources/posts"

    func edit(_ ws: TestWebSocket, record: Int) throws {
        try ws.send(json: #"{"op":"record.get","id":1,"channel":"\#(channel)","record":\#(record)}"#)
        #expect((try ws.expect(op: "record.state")["version"] as? [String: Any])?.isEmpty == true)
        try ws.send(json: #"{"op":"record.edit","id":2,"channel":"\#(channel)","record":\#(record),"version":{}}"#)
        _ = try ws.expect(op: "record.editing")
    }

    func commit(_ ws: TestWebSocket, id: Int, record: Int, version: String, title: String) throws {
        try ws.send(
            json: #"{"op":"record.commit","id":\#(id),"channel":"\#(channel)","record":\#(record),"version":\#(version),"fields":{"title":"\#(title)"}}"#)
    }

    /// The answer to commit `id`, and the stale warnings read before it.
    func answer(_ ws: TestWebSocket, id: Int) throws -> (frame: [String: Any], stale: [[String: Any]]) {
        var skipped: [[String: Any]] = []
        while true {
            let frame = try ws.nextJSON()
            if frame["id"] as? Int == id { return (frame, skipped.filter { $0["op"] as? String == "record.stale" }) }
            skipped.append(frame)
        }
    }

    @Test func twoEditorsOnDifferentNodesOneAcceptedOneConflictAndEveryEditorWarned() throws {
        let cluster = try Cluster(nodes: 3)
        defer { cluster.stop() }
        let (a, b, c) = (cluster.nodes[0].port, cluster.nodes[1].port, cluster.nodes[2].port)
        let alice = try Cluster.connect(a, user: "alice")
        let bob = try Cluster.connect(b, user: "bob")
        let dave = try Cluster.connect(c, user: "dave")
        let list = try Cluster.connect(c, user: "carol")
        try list.send(json: #"{"op":"subscribe","sub":"list","channel":"\#(channel)"}"#)
        _ = try list.expect(op: "subscribed")
        for editor in [alice, bob, dave] { try edit(editor, record: 1) }

        // Both save the title on the same context at once, on two nodes: Redis takes one first.
        try commit(alice, id: 10, record: 1, version: "{}", title: "Alice's title")
        try commit(bob, id: 10, record: 1, version: "{}", title: "Bob's title")
        var answers = ["alice": try answer(alice, id: 10), "bob": try answer(bob, id: 10)]
        let committed = answers.filter { $0.value.frame["op"] as? String == "record.committed" }
        let conflicted = answers.filter { $0.value.frame["op"] as? String == "record.conflict" }
        try #require(committed.count == 1 && conflicted.count == 1, "answers: \(answers.mapValues(\.frame))")
        let winner = committed.first!.key, loser = conflicted.first!.key
        let (winnerSocket, loserSocket) = winner == "alice" ? (alice, bob) : (bob, alice)
        let conflict = conflicted.first!.value.frame
        let conflicts = conflict["conflicts"] as? [[String: Any]]
        #expect(conflict["kind"] as? String == "fields")
        #expect(conflicts?.first?["field"] as? String == "title" && conflicts?.first?["actor"] as? String == winner)
        #expect(conflict["version"] as? [String: Int] == [winner: 1])

        // The loser, on the other node, and the third editor, on a third, are warned of the winner's
        // commit; the winner is not.
        func staleWarning(_ ws: TestWebSocket, already: [[String: Any]]) throws -> [String: Any] {
            if let stale = already.first { return stale }
            return try ws.expect(op: "record.stale")
        }
        for (name, ws, already) in [(loser, loserSocket, answers[loser]!.stale), ("dave", dave, [])] {
            let stale = try staleWarning(ws, already: already)
            #expect(stale["by"] as? String == winner, "\(name)")
            #expect((stale["changes"] as? [[String: Any]])?.first?["field"] as? String == "title", "\(name)")
        }
        #expect(answers[winner]!.stale.isEmpty)
        try winnerSocket.expectNothingPending()
        let event = try list.expect(op: "event")["event"] as! [String: Any]
        #expect((event["payload"] as? [String: Any])?["actor"] as? String == winner)

        // "Keep mine" on the loser's node: the version the conflict gave is enough there.
        try commit(loserSocket, id: 11, record: 1, version: #"{"\#(winner)":1}"#, title: "kept")
        answers[loser] = try answer(loserSocket, id: 11)
        #expect(answers[loser]!.frame["op"] as? String == "record.committed")
        #expect(answers[loser]!.frame["version"] as? [String: Int] == [winner: 1, loser: 1])
        // The winner, still editing on the old context, is warned from the other node now.
        #expect(try winnerSocket.expect(op: "record.stale")["by"] as? String == loser)
        #expect(try dave.expect(op: "record.stale")["by"] as? String == loser)
        let second = try list.expect(op: "event")["event"] as! [String: Any]
        #expect((second["payload"] as? [String: Any])?["actor"] as? String == loser)
        #expect(try list.expectSilence(0.2) == nil)
    }

    @Test func aCommitOnAnyNodeSeesEveryWriteAcknowledgedOnAnother() throws {
        let cluster = try Cluster(nodes: 3)
        defer { cluster.stop() }
        let ports = cluster.nodes.map(\.port)
        func commit(_ port: Int, _ body: String) throws -> TestHTTP.Response {
            try TestHTTP.request(port: port, "POST", "/v1/records/commit", headers: Cluster.auth, body: body)
        }
        for record in 1...5 {
            // Each step on the next node, each decided on what the one before acknowledged.
            let (first, second, third) = (ports[record % 3], ports[(record + 1) % 3], ports[(record + 2) % 3])
            let created = try commit(first, #"{"channel":"\#(channel)","record":\#(record),"version":{},"fields":{"title":"t"},"actor":"bob"}"#)
            #expect(created.status == 200)
            let stale = try commit(second, #"{"channel":"\#(channel)","record":\#(record),"version":{},"fields":{"title":"x"},"actor":"alice"}"#)
            #expect(stale.status == 409, "record \(record): node \(second) did not see the write acknowledged by \(first)")
            #expect((stale.json["conflicts"] as? [[String: Any]])?.first?["actor"] as? String == "bob")
            let merged = try commit(third, #"{"channel":"\#(channel)","record":\#(record),"version":{},"fields":{"body":"y"},"actor":"alice"}"#)
            #expect(merged.status == 200)
            #expect(merged.json["version"] as? [String: Int] == ["bob": 1, "alice": 1])
            let read = try TestHTTP.request(port: first, "GET", "/v1/records?channel=\(channel)&id=\(record)", headers: Cluster.auth)
            #expect(read.json["version"] as? [String: Int] == ["bob": 1, "alice": 1], "record \(record): the first node reads the third's write")
        }
    }
}
