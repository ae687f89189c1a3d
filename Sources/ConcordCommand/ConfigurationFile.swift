import ArgumentParser
import Foundation
import TOMLKit

/// A TOML configuration file (`--config`), checked in full against `SettingKey.all` when read, so that
/// a misspelt key or a value of the wrong type stops the server before it starts.
struct ConfigurationFile: Equatable {
    enum Value: Equatable {
        case string(String)
        case int(Int)
        case double(Double)
        case bool(Bool)
        case list([String])
    }

    let path: String
    /// Values by their `CONCORD_*` variable, the name every lookup uses.
    let values: [String: Value]

    /// Reads and checks the file at `path`.
    init(path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ValidationError("configuration file \(path) does not exist")
        }
        guard !isDirectory.boolValue, let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("configuration file \(path) cannot be read")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ValidationError("configuration file \(path) is not UTF-8 text")
        }
        try self.init(path: path, text: text)
    }

    /// Checks `text`, the contents of the file at `path` (named in errors).
    init(path: String, text: String) throws {
        self.path = path
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            let at = error.source.begin
            throw ValidationError("\(path):\(at.line):\(at.column): not valid TOML: \(error.description)")
        }
        var values: [String: Value] = [:]
        for (key, value) in table {
            guard let setting = SettingKey.byFileKey[key] else { throw Self.unknownKey(key, in: path) }
            values[setting.environment] = try Self.value(value, of: setting, in: path)
        }
        self.values = values
    }

    private static func value(_ value: TOMLValueConvertible, of setting: SettingKey, in path: String) throws -> Value {
        func wrongType() -> ValidationError {
            let found = value.type == .table ? "a table" : value.debugDescription
            return ValidationError("\(path): '\(setting.fileKey)' must be \(setting.kind.description), not \(found)")
        }
        switch setting.kind {
        case .string:
            guard let text = value.string else { throw wrongType() }
            return .string(text)
        case .int:
            guard let number = value.int, number >= 0 else { throw wrongType() }
            return .int(number)
        case .double:
            guard let number = value.double ?? value.int.map(Double.init), number > 0, number.isFinite else { throw wrongType() }
            return .double(number)
        case .bool:
            guard let flag = value.bool else { throw wrongType() }
            return .bool(flag)
        case .list:
            guard let array = value.array else { throw wrongType() }
            var items: [String] = []
            for item in array {
                guard let text = item.string else { throw wrongType() }
                items.append(text)
            }
            return .list(items)
        }
    }

    private static func unknownKey(_ key: String, in path: String) -> ValidationError {
        // TOML habits from other servers: snake_case keys, or tables such as [limits].
        let dashed = key.replacingOccurrences(of: "_", with: "-")
        let hint =
            SettingKey.byFileKey[dashed] != nil
            ? "; did you mean '\(dashed)'?"
            : "; keys are the flags of 'concord serve' without their dashes, at the top level, e.g. max-queue-bytes = 1048576"
        return ValidationError("\(path): unknown key '\(key)'\(hint)")
    }
}
