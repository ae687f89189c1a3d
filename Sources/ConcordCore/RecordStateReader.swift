/// A strict reader of the stored form over bytes: the store decodes every record at startup, so
/// this avoids Foundation's decoder and its intermediate values (about ten times faster).
struct StoredJSONReader {
    /// Values nest no deeper than a client frame allows; this only keeps corrupt data off the stack.
    static let maxDepth = 128

    let bytes: [UInt8]
    var i = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func failure(_ reason: String) -> RecordStateJSONError {
        RecordStateJSONError(offset: i, reason: reason)
    }

    mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    /// Consumes `byte` after optional whitespace.
    mutating func expect(_ byte: UInt8) throws(RecordStateJSONError) {
        skipSpace()
        guard i < bytes.count, bytes[i] == byte else {
            throw failure("expected \"\(Character(Unicode.Scalar(byte)))\"")
        }
        i += 1
    }

    mutating func end() throws(RecordStateJSONError) {
        skipSpace()
        guard i == bytes.count else { throw failure("trailing bytes") }
    }

    /// Calls `member` with each key, positioned at its value.
    mutating func object(_ member: (inout StoredJSONReader, String) throws(RecordStateJSONError) -> Void) throws(RecordStateJSONError) {
        try expect(UInt8(ascii: "{"))
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return }
        while true {
            let key = try string()
            try expect(UInt8(ascii: ":"))
            try member(&self, key)
            skipSpace()
            guard i < bytes.count else { throw failure("unterminated object") }
            i += 1
            if bytes[i - 1] == UInt8(ascii: "}") { return }
            guard bytes[i - 1] == UInt8(ascii: ",") else { i -= 1; throw failure("expected \",\" or \"}\"") }
        }
    }

    /// Calls `element` once per element, positioned at it.
    mutating func array(_ element: (inout StoredJSONReader) throws(RecordStateJSONError) -> Void) throws(RecordStateJSONError) {
        try expect(UInt8(ascii: "["))
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return }
        while true {
            try element(&self)
            skipSpace()
            guard i < bytes.count else { throw failure("unterminated array") }
            i += 1
            if bytes[i - 1] == UInt8(ascii: "]") { return }
            guard bytes[i - 1] == UInt8(ascii: ",") else { i -= 1; throw failure("expected \",\" or \"]\"") }
        }
    }

    /// `[actor, counter, at]` or `[actor, counter, at, value]`.
    mutating func write() throws(RecordStateJSONError) -> FieldWrite {
        try expect(UInt8(ascii: "["))
        let actor = try string()
        try expect(UInt8(ascii: ","))
        let counter = try unsigned()
        try expect(UInt8(ascii: ","))
        let at = try signed()
        skipSpace()
        var value: JSONValue?
        if i < bytes.count, bytes[i] == UInt8(ascii: ",") {
            i += 1
            value = try self.value(depth: 0)
        }
        try expect(UInt8(ascii: "]"))
        return FieldWrite(dot: Dot(actor: actor, counter: counter), at: Timestamp(milliseconds: at), value: value)
    }

    mutating func string() throws(RecordStateJSONError) -> String {
        try expect(UInt8(ascii: "\""))
        let start = i
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                defer { i += 1 }
                return String(decoding: bytes[start..<i], as: UTF8.self)
            }
            if b == UInt8(ascii: "\\") { return try escapedString(from: start) }
            if b < 0x20 { throw failure("control character in string") }
            i += 1
        }
        throw failure("unterminated string")
    }

    /// The slow path, for strings with escapes: copies into a buffer, decoding as it goes.
    private mutating func escapedString(from start: Int) throws(RecordStateJSONError) -> String {
        var utf8 = Array(bytes[start..<i])
        while i < bytes.count {
            let b = bytes[i]
            i += 1
            switch b {
            case UInt8(ascii: "\""): return String(decoding: utf8, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard i < bytes.count else { throw failure("unterminated escape") }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(e)
                case UInt8(ascii: "b"): utf8.append(0x08)
                case UInt8(ascii: "f"): utf8.append(0x0C)
                case UInt8(ascii: "n"): utf8.append(0x0A)
                case UInt8(ascii: "r"): utf8.append(0x0D)
                case UInt8(ascii: "t"): utf8.append(0x09)
                case UInt8(ascii: "u"): utf8.append(contentsOf: String(try unicodeEscape()).utf8)
                default: throw failure("unknown escape")
                }
            case 0..<0x20: throw failure("control character in string")
            default: utf8.append(b)
            }
        }
        throw failure("unterminated string")
    }

    /// The scalar of `XXXX` after `\u`, joining a surrogate pair written as two escapes.
    private mutating func unicodeEscape() throws(RecordStateJSONError) -> Unicode.Scalar {
        let high = try hex4()
        if (0xD800..<0xDC00).contains(high) {
            guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                throw failure("lone surrogate")
            }
            i += 2
            let low = try hex4()
            guard (0xDC00..<0xE000).contains(low) else { throw failure("lone surrogate") }
            return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))!
        }
        guard let scalar = Unicode.Scalar(high) else { throw failure("lone surrogate") }
        return scalar
    }

    private mutating func hex4() throws(RecordStateJSONError) -> UInt32 {
        guard i + 4 <= bytes.count else { throw failure("short \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[i]
            let digit: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = b - UInt8(ascii: "A") + 10
            default: throw failure("bad \\u escape")
            }
            v = v << 4 | UInt32(digit)
            i += 1
        }
        return v
    }

    /// The end of a JSON number starting at `i`, and whether it has a fraction or an exponent.
    private func numberEnd() throws(RecordStateJSONError) -> (end: Int, isInteger: Bool) {
        var j = i
        func digits(_ j: inout Int) -> Int {
            let start = j
            while j < bytes.count, bytes[j] >= UInt8(ascii: "0"), bytes[j] <= UInt8(ascii: "9") { j += 1 }
            return j - start
        }
        if j < bytes.count, bytes[j] == UInt8(ascii: "-") { j += 1 }
        let intStart = j
        let intDigits = digits(&j)
        guard intDigits > 0, intDigits == 1 || bytes[intStart] != UInt8(ascii: "0") else { throw failure("bad number") }
        var isInteger = true
        if j < bytes.count, bytes[j] == UInt8(ascii: ".") {
            j += 1
            guard digits(&j) > 0 else { throw failure("bad number") }
            isInteger = false
        }
        if j < bytes.count, bytes[j] == UInt8(ascii: "e") || bytes[j] == UInt8(ascii: "E") {
            j += 1
            if j < bytes.count, bytes[j] == UInt8(ascii: "+") || bytes[j] == UInt8(ascii: "-") { j += 1 }
            guard digits(&j) > 0 else { throw failure("bad number") }
            isInteger = false
        }
        return (j, isInteger)
    }

    /// Digits straight into an integer: counters and times are most of a state's numbers, and
    /// going through a `String` for each doubled the time to read a store.
    mutating func unsigned() throws(RecordStateJSONError) -> UInt64 {
        skipSpace()
        let start = i
        var v: UInt64 = 0
        while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
            let (times10, o1) = v.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(bytes[i] - UInt8(ascii: "0")))
            guard !o1, !o2 else { throw failure("integer too large") }
            v = sum
            i += 1
        }
        guard i > start, i - start == 1 || bytes[start] != UInt8(ascii: "0") else { throw failure("expected an integer") }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") || bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            throw failure("expected an integer")
        }
        return v
    }

    mutating func signed() throws(RecordStateJSONError) -> Int64 {
        skipSpace()
        let negative = i < bytes.count && bytes[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        let magnitude = try unsigned()
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { throw failure("integer too large") }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { throw failure("integer too large") }
        return Int64(magnitude)
    }

    /// Any JSON value. Integers that fit stay `.int` and the rest `.double`, as `JSONWriter` wrote them.
    mutating func value(depth: Int) throws(RecordStateJSONError) -> JSONValue {
        guard depth < Self.maxDepth else { throw failure("nested too deeply") }
        skipSpace()
        guard i < bytes.count else { throw failure("expected a value") }
        switch bytes[i] {
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "{"):
            var members: [String: JSONValue] = [:]
            try object { r, key throws(RecordStateJSONError) in members[key] = try r.value(depth: depth + 1) }
            return .object(members)
        case UInt8(ascii: "["):
            var elements: [JSONValue] = []
            try array { r throws(RecordStateJSONError) in elements.append(try r.value(depth: depth + 1)) }
            return .array(elements)
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default:
            let (end, isInteger) = try numberEnd()
            let text = String(decoding: bytes[i..<end], as: UTF8.self)
            if isInteger, let v = Int64(text) {
                i = end
                return .int(v)
            }
            guard let d = Double(text), d.isFinite else { throw failure("bad number") }
            i = end
            return .double(d)
        }
    }

    private mutating func literal(_ word: String) throws(RecordStateJSONError) {
        let n = word.utf8.count
        guard i + n <= bytes.count, bytes[i..<(i + n)].elementsEqual(word.utf8) else { throw failure("bad literal") }
        i += n
    }
}
