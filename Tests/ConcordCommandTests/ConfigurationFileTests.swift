import ArgumentParser
import ConcordServer
import Foundation
import Testing

@testable import ConcordCommand

/// `--config FILE`: precedence (flag, then environment, then file, then default), the errors that
/// stop the server, and the sample file that ships in `packaging/` (and in the .deb as `/etc/concord/concord.toml`).
@Suite struct ConfigurationFileTests {
    static func file(_ text: String) throws -> ConfigurationFile {
        try ConfigurationFile(path: "/etc/concord/test.toml", text: text)
    }

    /// The configuration `concord serve ARGUMENTS` would run with.
    static func configuration(_ arguments: [String] = [], environment: [String: String] = [:], file text: String? = nil) throws
        -> ServerConfiguration
    {
        let settings = Settings(environment: environment, file: try text.map(file))
        return try Serve.parse(arguments).configuration(settings)
    }

    /// One representative setting of each kind, with the value each layer gives it.
    struct Layered: CustomTestStringConvertible, Sendable {
        let name: String
        let flag: [String]
        let environment: (String, String)
        let file: String
        let read: @Sendable (ServerConfiguration) -> String
        let values: (flag: String, environment: String, file: String, default: String)
        var testDescription: String { name }
    }

    static let layered: [Layered] = [
        Layered(
            name: "string", flag: ["--host", "127.0.0.4"], environment: ("CONCORD_HOST", "127.0.0.3"), file: #"host = "127.0.0.2""#,
            read: { $0.host }, values: ("127.0.0.4", "127.0.0.3", "127.0.0.2", "127.0.0.1")),
        Layered(
            name: "integer", flag: ["--max-queue-bytes", "4000000"], environment: ("CONCORD_MAX_QUEUE_BYTES", "3000000"),
            file: "max-queue-bytes = 2000000", read: { String($0.maxQueueBytes) }, values: ("4000000", "3000000", "2000000", "1048576")),
        Layered(
            name: "milliseconds", flag: ["--typing-ttl", "4000"], environment: ("CONCORD_TYPING_TTL", "5000"), file: "typing-ttl = 6000",
            read: { String($0.typingTTLMilliseconds) }, values: ("4000", "5000", "6000", "3000")),
        Layered(
            name: "number", flag: ["--publish-rate", "4.5"], environment: ("CONCORD_PUBLISH_RATE", "3.5"), file: "publish-rate = 2",
            read: { String($0.publishPerSecond) }, values: ("4.5", "3.5", "2.0", "10.0")),
        Layered(
            name: "boolean", flag: ["--demo"], environment: ("CONCORD_DEMO", "0"), file: "demo = true",
            read: { String(describing: $0.demo) }, values: ("Optional(true)", "Optional(false)", "Optional(true)", "nil")),
        Layered(
            name: "switch", flag: ["--allow-anonymous"], environment: ("CONCORD_ALLOW_ANONYMOUS", "1"), file: "allow-anonymous = true",
            read: { String($0.allowAnonymous) }, values: ("true", "true", "true", "false")),
        Layered(
            name: "list", flag: ["--api-key", "flag-key"], environment: ("CONCORD_API_KEYS", "env-1, env-2"), file: #"api-key = ["file-1", "file-2"]"#,
            read: { $0.apiKeys.joined(separator: " ") }, values: ("flag-key", "env-1 env-2", "file-1 file-2", "")),
        Layered(
            name: "url", flag: ["--redis", "redis://flag:6379"], environment: ("CONCORD_REDIS_URL", "redis://env:6379"),
            file: #"redis = "redis://file:6379""#, read: { $0.redis.map { $0.host } ?? "none" }, values: ("flag", "env", "file", "none")),
    ]

    @Test(arguments: layered)
    func aFlagWinsOverTheEnvironmentWhichWinsOverTheFile(_ setting: Layered) throws {
        let environment = [setting.environment.0: setting.environment.1]
        #expect(setting.read(try Self.configuration()) == setting.values.default)
        #expect(setting.read(try Self.configuration(file: setting.file)) == setting.values.file)
        #expect(setting.read(try Self.configuration(environment: environment, file: setting.file)) == setting.values.environment)
        #expect(setting.read(try Self.configuration(setting.flag, environment: environment, file: setting.file)) == setting.values.flag)
        #expect(setting.read(try Self.configuration(setting.flag, file: setting.file)) == setting.values.flag)
    }

    @Test func anEmptyVariableLeavesTheFilesValue() throws {
        let config = try Self.configuration(environment: ["CONCORD_PORT": ""], file: "port = 7801")
        #expect(config.port == 7801)
    }

    @Test func theFileCanTurnOffWhatNoFlagOrVariableTurnsOn() throws {
        #expect(try Self.configuration(file: "memory = false\ndata-dir = \"/var/lib/concord\"").dataDirectory == "/var/lib/concord")
        #expect(try Self.configuration(file: "memory = true\ndata-dir = \"/var/lib/concord\"").dataDirectory == nil)
        #expect(try Self.configuration(environment: ["CONCORD_MEMORY": "0"], file: "memory = true").dataDirectory == "concord-data")
    }

    @Test func theFileIsNamedByTheFlagOrElseTheVariable() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("concord-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let fromFlag = directory.appendingPathComponent("flag.toml")
        let fromVariable = directory.appendingPathComponent("variable.toml")
        try "port = 7801\n".write(to: fromFlag, atomically: true, encoding: .utf8)
        try "port = 7802\n".write(to: fromVariable, atomically: true, encoding: .utf8)
        let environment = [SettingKey.configFileEnvironment: fromVariable.path]
        #expect(try Settings(environment: environment, configFile: fromFlag.path).int("CONCORD_PORT") == 7801)
        #expect(try Settings(environment: environment, configFile: nil).int("CONCORD_PORT") == 7802)
        #expect(try Settings(environment: [:], configFile: nil).file == nil)
    }

    static func message(_ body: () throws -> Void) -> String {
        do {
            try body()
            return "no error"
        } catch let error as ValidationError {
            return error.message
        } catch {
            return "\(error)"
        }
    }

    @Test(arguments: [
        ("max_queue_bytes = 10", "/etc/concord/test.toml: unknown key 'max_queue_bytes'; did you mean 'max-queue-bytes'?"),
        ("listen = 7700", "/etc/concord/test.toml: unknown key 'listen'"),
        ("[limits]\nmax-queue-bytes = 10", "/etc/concord/test.toml: unknown key 'limits'"),
        ("config = \"other.toml\"", "/etc/concord/test.toml: unknown key 'config'"),
        ("jwt-secret = \"0123456789abcdef0123456789abcdef\"", "/etc/concord/test.toml: unknown key 'jwt-secret'"),
        ("port = \"7700\"", "/etc/concord/test.toml: 'port' must be an integer, 0 or more, not \"7700\""),
        ("port = -1", "/etc/concord/test.toml: 'port' must be an integer, 0 or more, not -1"),
        ("port = 1.5", "/etc/concord/test.toml: 'port' must be an integer, 0 or more, not 1.5"),
        ("publish-rate = \"fast\"", "/etc/concord/test.toml: 'publish-rate' must be a number above 0, not \"fast\""),
        ("publish-rate = 0", "/etc/concord/test.toml: 'publish-rate' must be a number above 0, not 0"),
        ("dev = \"yes\"", "/etc/concord/test.toml: 'dev' must be true or false, not \"yes\""),
        ("dev = 1", "/etc/concord/test.toml: 'dev' must be true or false, not 1"),
        ("host = 127", "/etc/concord/test.toml: 'host' must be a string, not 127"),
        ("api-key = \"k1\"", "/etc/concord/test.toml: 'api-key' must be an array of strings, not \"k1\""),
        ("api-key = [\"k1\", 2]", "/etc/concord/test.toml: 'api-key' must be an array of strings"),
        ("redis = { host = \"x\" }", "/etc/concord/test.toml: 'redis' must be a string, not a table"),
        ("port = 7700\nport = 7701", "/etc/concord/test.toml:2:8: not valid TOML: Error while parsing key-value pair: cannot redefine existing integer 'port'"),
        ("port = ", "/etc/concord/test.toml:1:"),
    ])
    func aBadFileIsAnErrorNamingTheFileAndTheKey(_ text: String, _ expected: String) {
        let message = Self.message { _ = try Self.file(text) }
        #expect(message.hasPrefix(expected), "\(message)")
    }

    @Test func aMissingFileIsAnError() {
        let path = "/nonexistent/concord-\(UUID().uuidString).toml"
        #expect(Self.message { _ = try Settings(environment: [:], configFile: path) } == "configuration file \(path) does not exist")
        let viaVariable = Self.message { _ = try Settings(environment: [SettingKey.configFileEnvironment: path], configFile: nil) }
        #expect(viaVariable == "configuration file \(path) does not exist")
    }

    @Test func aValueTheServerRefusesIsStillNamed() {
        // Types are the file's to check; ranges stay with the options, as for flags and variables.
        let message = Self.message { _ = try Self.configuration(file: "redis-timeout = 10") }
        #expect(message == "Redis timeout must be 50 to 60000 ms")
    }
}
