import Foundation
import Testing

@testable import ConcordCommand

/// The key table against what `concord serve` really has: its flags (from ArgumentParser's help),
/// the variables its options read, README's Configuration table and the sample file.
@Suite struct SettingKeyTests {
    /// Each long flag of `concord serve` and the help text that follows it.
    static func serveFlags() -> [String: String] {
        var flags: [String: String] = [:]
        var current: String?
        for line in Serve.helpMessage(columns: 10_000).split(separator: "\n", omittingEmptySubsequences: false) {
            var text = Substring(line)
            guard text.hasPrefix("  ") else {
                current = nil
                continue
            }
            text = text.drop { $0 == " " }
            if text.hasPrefix("-h, ") { text = text.dropFirst(4) }
            if text.hasPrefix("--") {
                let name = String(text.dropFirst(2).prefix { $0.isLetter || $0.isNumber || $0 == "-" })
                current = name
                flags[name] = String(text)
            } else if let name = current {
                flags[name, default: ""] += " " + text
            }
        }
        return flags
    }

    static let notSettings: Set<String> = ["help", "version", "config"]

    @Test func everyFlagHasAKeyAndEveryKeyIsAFlag() {
        let flags = Self.serveFlags()
        #expect(flags.count > 40, "the help was not parsed: \(flags.keys.sorted())")
        let settings = Set(flags.keys).subtracting(Self.notSettings)
        #expect(settings == Set(SettingKey.all.map(\.flag)))
        #expect(flags["config"] != nil)
    }

    @Test func eachFlagsHelpNamesItsVariableAndOnlyBooleanFlagsTakeNoValue() throws {
        let flags = Self.serveFlags()
        for key in SettingKey.all {
            let help = try #require(flags[key.flag], "--\(key.flag)")
            #expect(help.contains("env \(key.environment)"), "--\(key.flag): \(help)")
            let takesValue = help.dropFirst(2 + key.flag.count).hasPrefix(" <")
            #expect(takesValue == (key.kind != .bool), "--\(key.flag): \(help)")
        }
    }

    @Test func everyVariableInTheTableIsReadAndEveryVariableReadIsInTheTable() throws {
        let read = LockedSet()
        var settings = Settings(environment: ["CONCORD_DEV": "1"])
        settings.onLookup = { read.insert($0) }
        let serve = try Serve.parse([])
        _ = try serve.configuration(settings)
        _ = serve.logLevel(settings)
        let expected = Set(SettingKey.all.map(\.environment)).union([SettingKey.jwtSecretEnvironment])
        #expect(read.values == expected)
    }

    @Test func readmeConfigurationTableListsEveryFlagWithItsVariableAndFileKey() throws {
        let readme = try String(contentsOf: Fixtures.repository.appendingPathComponent("README.md"), encoding: .utf8)
        let after = try #require(readme.components(separatedBy: "\n## Configuration\n").dropFirst().first)
        let section = after.components(separatedBy: "\n## ")[0]
        let rows = section.split(separator: "\n").filter { $0.hasPrefix("| `--") }
            .map { $0.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) } }
        for key in SettingKey.all {
            let row = rows.first { cells in cells[0].contains("`--\(key.flag)`") || cells[0].contains("`--\(key.flag) ") }
            let cells = try #require(row, "no README row for --\(key.flag)")
            #expect(cells[1].contains("`\(key.environment)"), "--\(key.flag): \(cells)")
            #expect(cells[2].contains("`\(key.fileKey)`"), "--\(key.flag): \(cells)")
        }
        #expect(section.contains("`--config FILE`") && section.contains("`CONCORD_CONFIG`"))
    }
}

/// A set filled from `Settings.onLookup`.
final class LockedSet: @unchecked Sendable {
    private let lock = NSLock()
    private var set: Set<String> = []

    func insert(_ value: String) { lock.withLock { _ = set.insert(value) } }
    var values: Set<String> { lock.withLock { set } }
}

enum Fixtures {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let sample = repository.appendingPathComponent("packaging/concord.toml")
}
