/// Milliseconds since the Unix epoch, handed to the core from outside so that tests choose the time.
public struct Timestamp: Sendable, Hashable, Comparable {
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.milliseconds < b.milliseconds }

    /// `2026-11-22T10:00:00.000Z`, the form JavaScript's `Date.toISOString` prints and parses.
    public var iso8601: String {
        let ms = milliseconds
        let days = ms >= 0 ? ms / 86_400_000 : (ms - 86_399_999) / 86_400_000
        let msOfDay = ms - days * 86_400_000
        let (y, m, d) = Self.civil(fromDays: days)
        guard (0...9999).contains(y) else {
            func pad(_ v: Int64, _ width: Int) -> String {
                let s = String(v)
                return String(repeating: "0", count: max(0, width - s.count)) + s
            }
            return
                "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(msOfDay / 3_600_000, 2)):\(pad(msOfDay / 60_000 % 60, 2)):\(pad(msOfDay / 1000 % 60, 2)).\(pad(msOfDay % 1000, 3))Z"
        }
        // Every event published without a date gets one: written into 24 bytes, no string pieces.
        return String(unsafeUninitializedCapacity: 24) { out in
            func put(_ value: Int64, at start: Int, width: Int) {
                var v = value
                for i in stride(from: start + width - 1, through: start, by: -1) {
                    out[i] = UInt8(ascii: "0") + UInt8(v % 10)
                    v /= 10
                }
            }
            put(y, at: 0, width: 4); out[4] = UInt8(ascii: "-")
            put(m, at: 5, width: 2); out[7] = UInt8(ascii: "-")
            put(d, at: 8, width: 2); out[10] = UInt8(ascii: "T")
            put(msOfDay / 3_600_000, at: 11, width: 2); out[13] = UInt8(ascii: ":")
            put(msOfDay / 60_000 % 60, at: 14, width: 2); out[16] = UInt8(ascii: ":")
            put(msOfDay / 1000 % 60, at: 17, width: 2); out[19] = UInt8(ascii: ".")
            put(msOfDay % 1000, at: 20, width: 3); out[23] = UInt8(ascii: "Z")
            return 24
        }
    }

    /// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's civil-from-days algorithm).
    static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
