import Glibc
import Histogram

/// Number and text formatting shared by every benchmark's report: aligned label/value blocks for
/// people, and one JSON object line for `scripts/bench.sh`.
enum ReportFormat {
    /// `value` with exactly `digits` decimals (String(format:) would pull in Foundation).
    static func fixed(_ value: Double, _ digits: Int) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        _ = withVaList([digits, value]) { vsnprintf(&buffer, 64, "%.*f", $0) }
        return String(cString: buffer)
    }

    /// A JSON number: integers without decimals, others with four; null when not measured.
    static func number(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "null" }
        return value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : fixed(value, 4)
    }

    /// A latency percentile in milliseconds from a histogram of microseconds; 100 gives the maximum.
    static func milliseconds(_ histogram: Histogram<UInt64>?, percentile: Double) -> Double? {
        guard let histogram, histogram.totalCount > 0 else { return nil }
        let micros = percentile >= 100 ? histogram.max : histogram.valueAtPercentile(percentile)
        return Double(micros) / 1000
    }

    static func mebibytes(_ bytes: Int) -> String { "\(fixed(Double(bytes) / 1_048_576, 1)) MiB" }

    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20:
                out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// `{"name":value,...}` from fields whose values are already JSON.
    static func jsonObject(_ fields: [(String, String)]) -> String {
        "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }

    /// Lines of `label   value`, the values aligned in one column.
    struct Block {
        private(set) var lines: [String] = []

        mutating func line(_ label: String, _ value: String) {
            lines.append(label + String(repeating: " ", count: max(1, 34 - label.count)) + value)
        }

        var text: String { lines.joined(separator: "\n") }
    }
}
