import Foundation

/// One scrape of `GET /metrics`, labelled samples included.
///
/// Series are keyed by name plus labels in a canonical order, so
/// `concord_limit_hits_total{limit="message_bytes"}` is found whatever order the exporter writes
/// its labels in.
struct MetricsScrape {
    /// Sample value by canonical series key: `name` or `name{a="1",b="2"}` (labels sorted by name).
    let samples: [String: Double]

    init(text: String) {
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") {
            let line = line.trimmingCharacters(in: .whitespaces)
            guard !line.isEmpty, !line.hasPrefix("#"), let space = line.lastIndex(of: " ") else { continue }
            guard let value = Double(line[line.index(after: space)...]),
                let key = Self.canonicalKey(String(line[..<space]).trimmingCharacters(in: .whitespaces))
            else { continue }
            samples[key] = value
        }
        self.samples = samples
    }

    /// Scrapes a running server.
    static func get(port: Int) throws -> MetricsScrape {
        let response = try TestHTTP.request(port: port, "GET", "/metrics")
        guard response.status == 200 else {
            throw TestWebSocket.Failure.handshake("GET /metrics answered \(response.status): \(response.text)")
        }
        return MetricsScrape(text: response.text)
    }

    /// A sample by name and labels; nil when the series is not exported.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples[Self.key(name, labels)]
    }

    /// `concord_limit_hits_total{limit="NAME"}` as an integer; nil when not exported.
    func limitHits(_ limit: String) -> Int? {
        value("concord_limit_hits_total", ["limit": limit]).map { Int($0) }
    }

    static func key(_ name: String, _ labels: [String: String]) -> String {
        guard !labels.isEmpty else { return name }
        let inner = labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: ",")
        return "\(name){\(inner)}"
    }

    /// Parses `name{a="x",b="y"}` (quoted values may hold escaped quotes, commas and braces).
    static func canonicalKey(_ series: String) -> String? {
        guard let brace = series.firstIndex(of: "{") else { return series }
        let name = String(series[..<brace])
        var labels: [String: String] = [:]
        var chars = Array(series[series.index(after: brace)...])
        guard chars.last == "}" else { return nil }
        chars.removeLast()
        var i = 0
        while i < chars.count {
            while i < chars.count, chars[i] == "," || chars[i] == " " { i += 1 }
            guard i < chars.count else { break }
            var labelName = ""
            while i < chars.count, chars[i] != "=" { labelName.append(chars[i]); i += 1 }
            guard i + 1 < chars.count, chars[i + 1] == "\"" else { return nil }
            i += 2
            var value = ""
            while i < chars.count, chars[i] != "\"" {
                if chars[i] == "\\", i + 1 < chars.count { i += 1 }
                value.append(chars[i])
                i += 1
            }
            guard i < chars.count else { return nil }
            i += 1
            labels[labelName.trimmingCharacters(in: .whitespaces)] = value
        }
        return key(name, labels)
    }
}
