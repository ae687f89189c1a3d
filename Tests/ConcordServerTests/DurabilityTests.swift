import Foundation
import Testing

/// The real `concord` binary with a data directory, killed with SIGKILL and restarted.
final class ServerProcess {
    let process = Process()
    let port: Int
    let output = Pipe()

    static var binary: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../.build/debug/concord").standardized
    }

    convenience init(dataDirectory: URL, port: Int = 0) throws {
        try self.init(arguments: ["--port", String(port), "--api-key", "test-key", "--data-dir", dataDirectory.path])
    }

    /// `concord serve` with these arguments, once it listens.
    init(arguments: [String]) throws {
        process.executableURL = Self.binary
        process.arguments = ["serve", "--log-level", "warning"] + arguments
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The first line names the port.
        var line = ""
        let handle = output.fileHandleForReading
        while !line.contains("\n") {
            let data = handle.availableData
            guard !data.isEmpty else { throw TestWebSocket.Failure.handshake("server exited before listening") }
            line += String(decoding: data, as: UTF8.self)
        }
        guard let range = line.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression) else {
            throw TestWebSocket.Failure.handshake("no port in \(line)")
        }
        self.port = Int(line[range].split(separator: ":")[1])!
    }

    func kill9() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

@Suite("Durable commits survive kill -9", .serialized)
struct DurabilityTests {
    let auth = ["Authorization": "Bearer test-key", "Content-Type": "application/json"]

    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("concord-durability-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    func commit(_ port: Int, record: Int, version: String, actor: String, field: String = "title") throws -> TestHTTP.Response {
        try TestHTTP.request(port: port, "POST", "/v1/records/commit", headers: auth,
                             body: #"{"channel":"resources/posts","record":\#(record),"version":\#(version),"fields":{"\#(field)":"v"},"actor":"\#(actor)"}"#)
    }

    @Test func anAcknowledgedCommitSurvivesAndAStaleContextStillConflicts() throws {
        let directory = try temporaryDirectory()
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
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var server = try ServerProcess(dataDirectory: directory)
        let port = server.port
        // Eight writers, each committing to its own records as fast as acknowledgements come back.
        let lock = NSLock()
        nonisolated(unsafe) var acknowledged: [Int: Int] = [:]  // record -> acknowledged commits
        let group = DispatchGroup()
        for writer in 0..<8 {
            group.enter()
            Thread {
                defer { group.leave() }
                for i in 0..<10_000 {
                    // A new field each time, so the empty context never conflicts.
                    let record = writer * 1000 + i % 10
                    guard let response = try? commit(port, record: record, version: "{}", actor: "w\(writer)", field: "f\(i)"),
                          response.status == 200 else { return }
                    lock.lock(); acknowledged[record, default: 0] += 1; lock.unlock()
                }
            }.start()
        }
        usleep(700_000)
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
