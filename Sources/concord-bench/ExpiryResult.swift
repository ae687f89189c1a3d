/// The figures for one structure at one size, as a table row and as one JSON object line.
struct ExpiryResult {
    var structure: String
    var entries: Int
    var expiring: Int
    var idleTickNanoseconds = 0.0
    var expiringTickNanoseconds = 0.0
    var refreshNanoseconds = 0.0
    var slowestRefreshBatchNanoseconds = 0.0
    /// Ticks that removed something when nothing was due, or not exactly `expiring`: a broken run.
    var wrongCounts = 0
    /// CPU the machine spent beyond this process while measuring: large values mean a disturbed run.
    var otherCPUSeconds: Double?

    var nanosecondsPerExpired: Double { expiringTickNanoseconds / Double(max(1, expiring)) }

    static func header(expiring: Int) -> [String] {
        ["structure", "entries", "idle tick ns", "tick µs (\(expiring) due)", "ns/expired", "refresh ns", "slowest 1k refreshes ms", "other CPU s"]
    }

    func cells() -> [String] {
        let fixed = ReportFormat.fixed
        return [
            structure, "\(entries)", fixed(idleTickNanoseconds, 1), fixed(expiringTickNanoseconds / 1000, 1),
            fixed(nanosecondsPerExpired, 0), fixed(refreshNanoseconds, 0), fixed(slowestRefreshBatchNanoseconds / 1e6, 2),
            otherCPUSeconds.map { fixed($0, 2) } ?? "-",
        ]
            + (wrongCounts > 0 ? ["WRONG COUNTS: \(wrongCounts)"] : [])
    }

    var json: String {
        let number = ReportFormat.number
        return ReportFormat.jsonObject([
            ("structure", ReportFormat.jsonString(structure)), ("entries", "\(entries)"), ("expiring", "\(expiring)"),
            ("idle_tick_ns", number(idleTickNanoseconds)), ("expiring_tick_us", number(expiringTickNanoseconds / 1000)),
            ("ns_per_expired", number(nanosecondsPerExpired)), ("refresh_ns", number(refreshNanoseconds)),
            ("slowest_refresh_batch_ms", number(slowestRefreshBatchNanoseconds / 1e6)), ("wrong_counts", "\(wrongCounts)"),
            ("other_cpu_seconds", number(otherCPUSeconds)),
        ])
    }

    /// Rows under a header, each column as wide as its widest cell.
    static func table(_ results: [ExpiryResult], expiring: Int) -> String {
        let rows = [header(expiring: expiring)] + results.map { $0.cells() }
        var widths: [Int] = []
        for row in rows {
            for (column, cell) in row.enumerated() {
                if column == widths.count { widths.append(0) }
                widths[column] = max(widths[column], cell.count)
            }
        }
        return rows.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[column] - cell.count + 2)
            }.joined()
        }.joined(separator: "\n")
    }
}
