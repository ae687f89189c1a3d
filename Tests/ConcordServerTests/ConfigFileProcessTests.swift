import Foundation
import Testing

/// `concord serve --config FILE` on the real binary: the shipped sample starts a server, the file's
/// settings take effect under the flags, and a bad file stops the server before it listens.
@Suite("Configuration file", .serialized)
struct ConfigFileProcessTests {
    static let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../packaging/concord.toml").standardized

    static func write(_ text: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("concord-config-\(UUID().uuidString).toml")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    @Test func theSampleFileStartsAServerThatAnswersHealthz() throws {
        let server = try ServerProcess(arguments: ["--config", Self.sample.path, "--port", "0", "--memory"])
        defer { server.stop() }
        let health = try TestHTTP.request(port: server.port, "GET", "/healthz")
        #expect(health.status == 200)
        #expect(health.json["status"] as? String == "ok")
    }

    @Test func theFilesSettingsApplyAndFlagsWinOverThem() throws {
        let file = try Self.write(
            """
            port = 0
            memory = true
            demo = true
            api-key = ["file-key"]
            """)
        defer { try? FileManager.default.removeItem(at: file) }
        let event = #"{"channel":"resources/posts","type":"updated"}"#

        let fromFile = try ServerProcess(arguments: ["--config", file.path])
        #expect(try TestHTTP.publish(port: fromFile.port, event, key: "file-key").status == 200)
        #expect(try TestHTTP.request(port: fromFile.port, "GET", "/demo").status == 200)
        fromFile.stop()

        let withFlags = try ServerProcess(arguments: ["--config", file.path, "--api-key", "flag-key", "--no-demo"])
        defer { withFlags.stop() }
        #expect(try TestHTTP.publish(port: withFlags.port, event, key: "file-key").status == 401)
        #expect(try TestHTTP.publish(port: withFlags.port, event, key: "flag-key").status == 200)
        #expect(try TestHTTP.request(port: withFlags.port, "GET", "/demo").status == 404)
    }

    @Test(arguments: [
        ("port = 0\nmemory = true\nmax-queue-byte = 1048576\n", "unknown key 'max-queue-byte'"),
        ("port = 0\nmemory = true\ndev = \"yes\"\n", "'dev' must be true or false, not \"yes\""),
        ("port = 0\nmemory = [\n", "not valid TOML"),
    ])
    func aBadFileStopsTheServerNamingTheFileAndKey(_ text: String, _ reason: String) throws {
        let file = try Self.write(text)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try #require(try ServerProcess.refusal(arguments: ["--config", file.path]))
        #expect(result.status != 0)
        #expect(result.output.contains(file.path), "\(result.output)")
        #expect(result.output.contains(reason), "\(result.output)")
        #expect(!result.output.contains("listening on"))
    }

    @Test func aMissingFileStopsTheServer() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("concord-missing-\(UUID().uuidString).toml").path
        let result = try #require(try ServerProcess.refusal(arguments: ["--port", "0", "--memory", "--config", path]))
        #expect(result.status != 0)
        #expect(result.output.contains("configuration file \(path) does not exist"), "\(result.output)")
    }
}
