import Foundation
import Testing

@Suite("Durable commits survive kill -9", .serialized)
struct DurabilityTests {
    let auth = ["Authorization": "Bearer test-key", "Content-Type": "application/json"]

    func commit(_ port: Int, record: Int, version: String, actor: String, field: String = "title") throws -> TestHTTP.Response {
        try TestHTTP.request(
            port: port, "POST", "/v1/records/commit", headers: auth,
            body: #"{"channel":"resources/posts","record":\#(record),"version":\#(version),"fields":{"\#(field)":"v"},"actor":"\#(actor)"}"#)
    }

    @Test func anAcknowledgedCommitSurvivesAndAStaleContextStillConflicts() throws {
        let directory = try TestDirectory.make("durability")
        defer { try? FileManager.default.removeItem(at: directory) }
        var server = try ServerProcess(dataDirectory: directory)
        #expect(try commit(server.port, record: 1, version: "{}", actor: "alice").status == 200)
        #expect(try commit(server.port, record: 1, version: #"{"alice":1}"#, actor: "bob").status == 200)
        server.kill9()

        server = try ServerProcess(dataDirectory: directory)
        defer { server.kill9() }
        let read = try TestHTTP.request(port: server.port, "GET", "/v1/records?channel=resources/posts&id=1", headers: auth)
        #expect(read.json["version"] as? [String: Int] == ["alice": 1, "bob": 1])
        let stale = try commit(server.port, record: 1, version: #"{"alice":1}"#, actor: "carol")
        #expect(stale.status == 409)
    }

    @Test func everyAcknowledgedCommitSurvivesAKillWithCommitsInFlight() throws {
        let directory = try TestDirectory.make("durability")
        defer { try? FileManager.default.removeItem(at: directory) }
        var server = try ServerProcess(dataDirectory: directory)
        let port = server.port
        // Eight writers, each committing to its own records as fast as acknowledgements come back.
        let lock = NSLock()
        nonisolated(unsafe) var acknowledged: [Int: Int] = [:]  // record -> acknowledged commits
        nonisolated(unsafe) var total = 0
        // Signalled once enough commits are acknowledged: the kill comes with commits in flight.
        let enough = DispatchSemaphore(value: 0)
        let group = DispatchGroup()
        for writer in 0..<8 {
            group.enter()
            Thread {
                defer { group.leave() }
                for i in 0..<10_000 {
                    // A new field each time, so the empty context never conflicts.
                    let record = writer * 1000 + i % 10
                    guard let response = try? commit(port, record: record, version: "{}", actor: "w\(writer)", field: "f\(i)"),
                        response.status == 200
                    else { return }
                    lock.lock()
                    acknowledged[record, default: 0] += 1
                    total += 1
                    if total == 200 { enough.signal() }
                    lock.unlock()
                }
            }.start()
        }
        #expect(enough.wait(timeout: .now() + 30) == .success, "200 commits acknowledged before the kill")
        server.kill9()
        group.wait()

        let counts = lock.withLock { acknowledged }
        #expect(counts.values.reduce(0, +) > 50, "enough commits were acknowledged before the kill")
        server = try ServerProcess(dataDirectory: directory)
        defer { server.kill9() }
        for (record, count) in counts {
            let read = try TestHTTP.request(port: server.port, "GET", "/v1/records?channel=resources/posts&id=\(record)", headers: auth)
            let version = read.json["version"] as? [String: Int] ?? [:]
            // Each acknowledged commit bumped its writer's counter on that record once.
            #expect(version.values.reduce(0, +) >= count, "record \(record): \(count) acknowledged, version \(version)")
        }
    }
}
