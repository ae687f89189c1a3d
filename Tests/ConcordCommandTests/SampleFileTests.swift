import Foundation
import Testing

@testable import ConcordCommand

/// `packaging/concord.toml`, the sample every package ships: it lists every key once, each commented
/// with its default, and those defaults are the server's.
@Suite struct SampleFileTests {
    /// The sample's commented settings (`# key = value`), uncommented.
    static func settingLines() throws -> [(key: String, line: String)] {
        let text = try String(contentsOf: Fixtures.sample, encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("# ") else { return nil }
            let body = line.dropFirst(2)
            let key = body.prefix { $0.isLowercase || $0.isNumber || $0 == "-" }
            guard !key.isEmpty, body.dropFirst(key.count).hasPrefix(" = ") else { return nil }
            return (String(key), String(body))
        }
    }

    @Test func theSampleListsEveryKeyOnce() throws {
        let keys = try Self.settingLines().map(\.key)
        #expect(keys.sorted() == SettingKey.all.map(\.fileKey).sorted())
    }

    @Test func theSampleLoadsAsItShips() throws {
        let file = try ConfigurationFile(path: Fixtures.sample.path)
        #expect(file.values.isEmpty)
    }

    @Test func everyValueInTheSampleHasItsKeysType() throws {
        let text = try Self.settingLines().map(\.line).joined(separator: "\n")
        let file = try ConfigurationFile(path: "uncommented", text: text)
        #expect(file.values.count == SettingKey.all.count)
    }

    @Test func theSamplesDefaultsAreTheServers() throws {
        let defaults = try Self.settingLines().map(\.line).filter { !$0.contains("(example)") }.joined(separator: "\n")
        let fromSample = try Serve.parse([]).configuration(Settings(environment: [:], file: ConfigurationFile(path: "defaults", text: defaults)))
        let builtIn = try Serve.parse([]).configuration(Settings(environment: [:]))
        var sampleDump = ""
        var builtInDump = ""
        dump(fromSample, to: &sampleDump)
        dump(builtIn, to: &builtInDump)
        #expect(sampleDump == builtInDump)
    }
}
