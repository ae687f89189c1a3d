/// Pulls numbers (an event's `seq` and `t`, a reply's `id`) out of server frames by byte patterns:
/// parsing every push as JSON would make the generator, not the server, the thing being measured.
enum EventScanner {
    private static let seqKey = Array("\"seq\":".utf8)
    private static let timeKey = Array("\"t\":".utf8)

    /// The sequence number and send time of an event push (looked for from byte `start`, past the
    /// prefix that identified it), or nil when either is missing.
    static func scan(_ message: [UInt8], from start: Int) -> (seq: Int, sentAt: UInt64)? {
        message.withUnsafeBytes { bytes in
            // The payload's keys come out in dictionary order, so each is looked for independently.
            guard let seqAt = find(seqKey, in: bytes, from: start), let seq = number(in: bytes, at: seqAt),
                let timeAt = find(timeKey, in: bytes, from: start), let sentAt = number(in: bytes, at: timeAt)
            else { return nil }
            return (Int(truncatingIfNeeded: seq), sentAt)
        }
    }

    /// The non-negative integer right after the first `key` in `message`, such as a reply's `"id":`.
    static func integer(after key: [UInt8], in message: [UInt8]) -> Int? {
        message.withUnsafeBytes { bytes in
            guard let at = find(key, in: bytes, from: 0), let value = number(in: bytes, at: at) else { return nil }
            return Int(truncatingIfNeeded: value)
        }
    }

    static func hasPrefix(_ message: [UInt8], _ prefix: [UInt8]) -> Bool {
        message.count >= prefix.count && message[0..<prefix.count].elementsEqual(prefix)
    }

    static func contains(_ message: [UInt8], _ pattern: [UInt8]) -> Bool {
        message.withUnsafeBytes { find(pattern, in: $0, from: 0) != nil }
    }

    /// The index just past the first occurrence of `pattern` at or after `from`.
    static func find(_ pattern: [UInt8], in bytes: UnsafeRawBufferPointer, from: Int) -> Int? {
        let count = bytes.count, length = pattern.count
        guard length > 0, count >= length else { return nil }
        let first = pattern[0]
        var index = from
        outer: while index <= count - length {
            if bytes[index] != first {
                index += 1
                continue
            }
            for offset in 1..<length where bytes[index + offset] != pattern[offset] {
                index += 1
                continue outer
            }
            return index + length
        }
        return nil
    }

    /// A non-negative decimal integer starting at `index`.
    private static func number(in bytes: UnsafeRawBufferPointer, at index: Int) -> UInt64? {
        var value: UInt64 = 0
        var position = index
        while position < bytes.count {
            let digit = bytes[position] &- UInt8(ascii: "0")
            if digit > 9 { break }
            value = value &* 10 &+ UInt64(digit)
            position += 1
        }
        return position > index ? value : nil
    }
}
