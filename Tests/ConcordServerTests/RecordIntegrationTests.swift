import ConcordServer
import Foundation
import Testing

@Suite("Records and conflicts over real sockets", .serialized)
struct RecordIntegrationTests {
    func connect(_ server: TestServer, user: String) throws -> TestWebSocket {
        let ws = try TestWebSocket(port: server.port, path: "/v1/ws?user=\(user)")
        _ = try ws.expect(op: "welcome")
        return ws
    }

    let auth = ["Authorization": "Bearer test-key", "Content-Type": "application/json"]

    @Test func twoEditorsEarlyWarningConflictKeepMineAndTheUpdatedEvent() throws {
        let server = try TestServer { $0.developmentMode = true }
        defer { server.stop() }
        let alice = try connect(server, user: "alice")
        let bob = try connect(server, user: "bob")
        let carol = try connect(server, user: "carol")
        try carol.send(json: #"{"op":"subscribe","sub":"list","channel":"resources/posts"}"#)
        _ = try carol.expect(op: "subscribed")

        try alice.send(json: #"{"op":"record.get","id":1,"channel":"resources/posts","record":1}"#)
        let state = try alice.expect(op: "record.state")
        #expect((state["version"] as? [String: Any])?.isEmpty == true)
        for ws in [alice, bob] {
            try ws.send(json: #"{"op":"record.edit","id":2,"channel":"resources/posts","record":1,"version":{}}"#)
            _ = try ws.expect(op: "record.editing")
        }

        try bob.send(json: #"{"op":"record.commit","id":3,"channel":"resources/posts","record":1,"version":{},"fields":{"title":"Bob's title"}}"#)
        let committed = try bob.expect(op: "record.committed")
        #expect(committed["version"] as? [String: Int] == ["bob": 1])

        // Alice is warned before she saves, naming the field and the actor.
        let stale = try alice.expect(op: "record.stale")
        #expect(stale["by"] as? String == "bob")
        let changes = stale["changes"] as? [[String: Any]]
        #expect(changes?.first?["field"] as? String == "title")
        #expect(changes?.first?["value"] as? String == "Bob's title")
        // Bob, the author, is not warned about his own commit.
        #expect(try bob.expectSilence(0.2) == nil)

        // The third subscriber gets Refine's updated event with the new version.
        let event = try carol.expect(op: "event")["event"] as! [String: Any]
        #expect(event["type"] as? String == "updated")
        let payload = event["payload"] as! [String: Any]
        #expect(payload["ids"] as? [String] == ["1"])
        #expect(payload["version"] as? [String: Int] == ["bob": 1])
        #expect(payload["fields"] as? [String] == ["title"])

        // Alice saves on her stale context: a conflict naming the field and who changed it.
        try alice.send(json: #"{"op":"record.commit","id":4,"channel":"resources/posts","record":1,"version":{},"fields":{"title":"Alice's title"}}"#)
        let conflict = try alice.expect(op: "record.conflict")
        #expect(conflict["kind"] as? String == "fields")
        let conflicts = conflict["conflicts"] as? [[String: Any]]
        #expect(conflicts?.first?["field"] as? String == "title")
        #expect(conflicts?.first?["actor"] as? String == "bob")

        // "Keep mine": commit on the version the conflict showed.
        let version = conflict["version"] as! [String: Int]
        let context = String(data: try JSONSerialization.data(withJSONObject: version), encoding: .utf8)!
        try alice.send(json: #"{"op":"record.commit","id":5,"channel":"resources/posts","record":1,"version":\#(context),"fields":{"title":"Alice's title"}}"#)
        #expect(try alice.expect(op: "record.committed")["version"] as? [String: Int] == ["alice": 1, "bob": 1])
        let second = try carol.expect(op: "event")["event"] as! [String: Any]
        #expect((second["payload"] as? [String: Any])?["actor"] as? String == "alice")
    }

    @Test func theSameFlowOverHTTPAnswers409() throws {
        let server = try TestServer()
        defer { server.stop() }
        let first = try TestHTTP.request(
            port: server.port, "POST", "/v1/records/commit", headers: auth,
            body: #"{"channel":"resources/posts","record":"7","version":{},"fields":["title"],"actor":"bob"}"#)
        #expect(first.status == 200)
        let stale = try TestHTTP.request(
            port: server.port, "POST", "/v1/records/commit", headers: auth,
            body: #"{"channel":"resources/posts","record":7,"version":{},"fields":{"title":"x"},"actor":"alice"}"#)
        #expect(stale.status == 409)
        #expect((stale.json["conflicts"] as? [[String: Any]])?.first?["actor"] as? String == "bob")
        let disjoint = try TestHTTP.request(
            port: server.port, "POST", "/v1/records/commit", headers: auth,
            body: #"{"channel":"resources/posts","record":7,"version":{},"fields":{"body":"y"},"actor":"alice","dryRun":true}"#)
        #expect(disjoint.status == 200)
        // The answer says plainly that nothing was written: the version as it is, and no dot.
        #expect(disjoint.json["dryRun"] as? Bool == true)
        #expect(disjoint.json["version"] as? [String: Int] == ["bob": 1])
        #expect(disjoint.json["dot"] == nil)
        #expect(disjoint.json["fields"] as? [String] == ["body"])
        let read = try TestHTTP.request(port: server.port, "GET", "/v1/records?channel=resources/posts&id=7", headers: auth)
        #expect(read.json["version"] as? [String: Int] == ["bob": 1], "a dry run records nothing")
        let deleted = try TestHTTP.request(
            port: server.port, "POST", "/v1/records/delete", headers: auth,
            body: #"{"channel":"resources/posts","record":7,"version":{"bob":1}}"#)
        #expect(deleted.json["deleted"] as? Bool == true)
        let afterDelete = try TestHTTP.request(
            port: server.port, "POST", "/v1/records/commit", headers: auth,
            body: #"{"channel":"resources/posts","record":7,"version":{"bob":1,"backend":1},"fields":["title"]}"#)
        #expect(afterDelete.status == 409)
        #expect(afterDelete.json["kind"] as? String == "deleted")
        for bad in [
            #"{"record":1}"#, #"{"channel":"c","record":1,"version":{"a":-1}}"#, #"{"channel":"c","record":1,"fields":{}}"#,
            #"{"channel":"resources/posts","record":7,"version":{"bob":5}}"#,
        ] {
            let response = try TestHTTP.request(port: server.port, "POST", "/v1/records/commit", headers: auth, body: bad)
            #expect(response.status == 400, "\(bad)")
        }
        #expect(try TestHTTP.request(port: server.port, "GET", "/v1/records?channel=c&id=1").status == 401)
    }
}
