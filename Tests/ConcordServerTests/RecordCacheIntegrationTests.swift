import ConcordServer
import Foundation
import Testing

/// Records on a real server whose cache holds two records, so that every path meets a miss: the
/// state comes from the SQLite store, read off the loop, and the answers keep their order.
@Suite("Records beyond the cache: misses, eviction, order, restart", .serialized)
struct RecordCacheIntegrationTests {
    let auth = ["Authorization": "Bearer test-key", "Content-Type": "application/json"]

    func smallCacheServer(_ directory: URL) throws -> TestServer {
        try TestServer {
            $0.developmentMode = true
            $0.dataDirectory = directory.path
            $0.recordCacheSize = 2
        }
    }

    func connect(_ server: TestServer, user: String) throws -> TestWebSocket {
        let ws = try TestWebSocket(port: server.port, path: "/v1/ws?user=\(user)")
        _ = try ws.expect(op: "welcome")
        return ws
    }

    func commit(_ port: Int, record: Int, version: String, actor: String, field: String = "title", dryRun: Bool = false) throws -> TestHTTP.Response {
        try TestHTTP.request(
            port: port, "POST", "/v1/records/commit", headers: auth,
            body: #"{"channel":"resources/posts","record":\#(record),"version":\#(version),"fields":{"\#(field)":"v"},"actor":"\#(actor)","dryRun":\#(dryRun)}"#
        )
    }

    func version(_ port: Int, record: Int) throws -> [String: Int] {
        let read = try TestHTTP.request(port: port, "GET", "/v1/records?channel=resources/posts&id=\(record)", headers: auth)
        #expect(read.status == 200)
        return read.json["version"] as? [String: Int] ?? [:]
    }

    /// Writes to records 1...n in turn, so that with two cached each command misses.
    func fill(_ port: Int, records: ClosedRange<Int>, actor: String) throws {
        for record in records {
            #expect(try commit(port, record: record, version: "{}", actor: actor, field: "f\(record)").status == 200)
        }
    }

    @Test func editingSessionsAndStaleWarningsSurviveEviction() throws {
        let directory = try TestDirectory.make("cache")
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try smallCacheServer(directory)
        defer { server.stop() }
        let alice = try connect(server, user: "alice")
        let bob = try connect(server, user: "bob")

        for ws in [alice, bob] {
            try ws.send(json: #"{"op":"record.edit","id":1,"channel":"resources/posts","record":1,"version":{}}"#)
            _ = try ws.expect(op: "record.editing")
        }
        // Records 2 to 5 push record 1 out of the cache.
        try fill(server.port, records: 2...5, actor: "backend")

        // Bob's commit reads record 1 back from the store; Alice is still warned, with the field.
        try bob.send(json: #"{"op":"record.commit","id":2,"channel":"resources/posts","record":1,"version":{},"fields":{"title":"Bob's"}}"#)
        #expect(try bob.expect(op: "record.committed")["version"] as? [String: Int] == ["bob": 1])
        let stale = try alice.expect(op: "record.stale")
        #expect(stale["by"] as? String == "bob")
        #expect((stale["changes"] as? [[String: Any]])?.first?["value"] as? String == "Bob's")

        // Evicted again, Alice's stale save is still a conflict naming Bob.
        try fill(server.port, records: 6...8, actor: "backend")
        try alice.send(json: #"{"op":"record.commit","id":3,"channel":"resources/posts","record":1,"version":{},"fields":{"title":"Alice's"}}"#)
        let conflict = try alice.expect(op: "record.conflict")
        #expect((conflict["conflicts"] as? [[String: Any]])?.first?["actor"] as? String == "bob")

        // A delete on an evicted record leaves a tombstone that a later commit meets.
        try fill(server.port, records: 9...11, actor: "backend")
        try alice.send(json: #"{"op":"record.delete","id":4,"channel":"resources/posts","record":1,"version":{"bob":1}}"#)
        _ = try alice.expect(op: "record.committed")
        // Bob still edits record 1: he is told it was deleted, and by whom.
        let deleted = try bob.expect(op: "record.stale")
        #expect(deleted["deleted"] as? Bool == true && deleted["by"] as? String == "alice")
        try fill(server.port, records: 12...14, actor: "backend")
        try bob.send(json: #"{"op":"record.commit","id":5,"channel":"resources/posts","record":1,"version":{"alice":1,"bob":1},"fields":{"title":"late"}}"#)
        #expect(try bob.expect(op: "record.conflict")["kind"] as? String == "deleted")

        // record.get and a dry run read evicted records too; the dry run writes nothing.
        try alice.send(json: #"{"op":"record.get","id":6,"channel":"resources/posts","record":2}"#)
        #expect(try alice.expect(op: "record.state")["version"] as? [String: Int] == ["backend": 1])
        #expect(try commit(server.port, record: 3, version: #"{"backend":1}"#, actor: "carol", dryRun: true).status == 200)
        try fill(server.port, records: 15...17, actor: "backend")
        #expect(try version(server.port, record: 3) == ["backend": 1])

        let metrics = try MetricsScrape.get(port: server.port)
        #expect((metrics.value("concord_record_cache_misses_total") ?? 0) >= 20)
        #expect((metrics.value("concord_record_cache_evictions_total") ?? 0) >= 15)
        #expect((metrics.value("concord_record_cache_entries") ?? 99) <= 2)
        #expect(metrics.value("concord_record_cache_capacity") == 2)
        #expect(metrics.value("concord_record_cache_hits_total") != nil)
    }

    @Test func commandsOnARecordBeingReadAreAnsweredInTheOrderSent() throws {
        let directory = try TestDirectory.make("cache")
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try smallCacheServer(directory)
        defer { server.stop() }
        try fill(server.port, records: 1...3, actor: "backend")  // record 1 is evicted
        let alice = try connect(server, user: "alice")
        // Sent together: all of them wait for record 1's row, then run in this order.
        for frame in [
            #"{"op":"record.edit","id":1,"channel":"resources/posts","record":1,"version":{"backend":1}}"#,
            #"{"op":"record.commit","id":2,"channel":"resources/posts","record":1,"version":{"backend":1},"fields":{"title":"a"}}"#,
            #"{"op":"record.get","id":3,"channel":"resources/posts","record":1}"#,
            #"{"op":"record.commit","id":4,"channel":"resources/posts","record":1,"version":{"backend":1},"fields":{"title":"b"}}"#,
            #"{"op":"record.stop","id":5,"channel":"resources/posts","record":1}"#,
        ] { try alice.send(json: frame) }
        let edit = try alice.nextJSON()
        #expect(edit["op"] as? String == "record.editing" && edit["id"] as? Int == 1)
        let read = try alice.nextJSON()
        // The get was sent after the first commit: it sees it, though that commit is acknowledged
        // only once durable.
        #expect(read["op"] as? String == "record.state" && read["id"] as? Int == 3)
        #expect(read["version"] as? [String: Int] == ["backend": 1, "alice": 1])
        let rest = try (0..<3).map { _ in try alice.nextJSON() }
        let byID = Dictionary(uniqueKeysWithValues: rest.map { ($0["id"] as? Int ?? 0, $0) })
        #expect(byID[2]?["op"] as? String == "record.committed")
        // The second commit on the same stale context changes the same field: a conflict.
        #expect(byID[4]?["op"] as? String == "record.conflict")
        #expect(byID[5]?["op"] as? String == "record.stopped")

        // Pipelined HTTP requests on one connection are answered in order, each after a miss.
        try fill(server.port, records: 4...6, actor: "backend")
        var pipelined = ""
        for (i, path) in ["/v1/records?channel=resources/posts&id=2", "/v1/records?channel=resources/posts&id=3"].enumerated() {
            pipelined += "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer test-key\r\n" + (i == 1 ? "Connection: close\r\n" : "") + "\r\n"
        }
        let both = try TestHTTP.raw(port: server.port, Array(pipelined.utf8)).text
        let second = try #require(both.range(of: "HTTP/1.1 200"))
        #expect(both.contains(#""record":"2""#) && both[second.upperBound...].contains(#""record":"3""#))
        #expect(both.range(of: #""record":"2""#)!.lowerBound < both.range(of: #""record":"3""#)!.lowerBound)
    }

    @Test func aRestartWithMoreRecordsThanTheCacheReadsThemOnDemand() throws {
        let directory = try TestDirectory.make("cache")
        defer { try? FileManager.default.removeItem(at: directory) }
        var server = try ServerProcess(arguments: ["--port", "0", "--api-key", "test-key", "--data-dir", directory.path, "--record-cache", "3"])
        for record in 1...20 {
            #expect(try commit(server.port, record: record, version: "{}", actor: "w\(record % 4)").status == 200)
        }
        server.kill9()

        server = try ServerProcess(arguments: ["--port", "0", "--api-key", "test-key", "--data-dir", directory.path, "--record-cache", "3"])
        defer { server.stop() }
        let metrics = try MetricsScrape.get(port: server.port)
        // Nothing was read at start.
        #expect(metrics.value("concord_record_cache_entries") == 0)
        for record in 1...20 {
            #expect(try version(server.port, record: record) == ["w\(record % 4)": 1])
            #expect(try commit(server.port, record: record, version: "{}", actor: "late").status == 409)
        }
        let after = try MetricsScrape.get(port: server.port)
        #expect((after.value("concord_record_cache_entries") ?? 99) <= 3)
        #expect((after.value("concord_record_cache_misses_total") ?? 0) >= 20)
    }

    @Test func aCacheSizeBelowOneIsRefusedAtStart() throws {
        #expect(throws: (any Error).self) {
            _ = try ServerProcess(arguments: ["--port", "0", "--memory", "--record-cache", "0"])
        }
    }
}
