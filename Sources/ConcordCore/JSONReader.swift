/// A strict RFC 8259 reader from bytes to `JSONValue`: every command and HTTP body goes through it,
/// so it avoids Foundation's decoder and its chain of failed type guesses per value.
struct JSONReader {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0
    private let maxDepth: Int

    /// Why a text is not accepted, and the byte offset (from 0) where that was found.
    struct Failure: Error, Equatable {
        var reason: String
        var offset: Int
    }

    /// Parses one JSON text (surrounding whitespace allowed); fails when it is not valid JSON or
    /// nests deeper than `maxDepth`.
    static func parse(_ input: [UInt8], maxDepth: Int) -> Result<JSONValue, Failure> {
        input.withUnsafeBufferPointer { buffer in
            var reader = JSONReader(bytes: buffer, maxDepth: maxDepth)
            do throws(Failure) {
                let value = try reader.value(depth: 0)
                reader.skipWhitespace()
                guard reader.index == buffer.count else { throw reader.fail("unexpected data after the JSON value") }
                return .success(value)
            } catch {
                return .failure(error)
            }
        }
    }

    private func fail(_ reason: String, at offset: Int? = nil) -> Failure {
        Failure(reason: reason, offset: offset ?? index)
    }

    /// The failure at the current byte: the text ended early, or this byte is not what fits here.
    private func unexpected(_ expected: String) -> Failure {
        guard index < bytes.count else { return fail("the text ends early (truncated?): expected \(expected)") }
        let byte = bytes[index]
        let shown = (0x20..<0x7F).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
        return fail("expected \(expected), found \(shown)")
    }

    private init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    private mutating func skipWhitespace() {
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 {
            index += 1
        }
    }

    private mutating func value(depth: Int) throws(Failure) -> JSONValue {
        skipWhitespace()
        guard index < bytes.count else { throw unexpected("a value") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default: return try number()
        }
    }

    private mutating func literal(_ word: StaticString) throws(Failure) {
        let count = word.utf8CodeUnitCount
        for i in 0..<count where index + i >= bytes.count || bytes[index + i] != word.utf8Start[i] {
            throw fail(index + i >= bytes.count ? "the text ends early (truncated?): expected \(word)" : "expected \(word)", at: index + i)
        }
        index += count
    }

    private mutating func object(depth: Int) throws(Failure) -> JSONValue {
        guard depth <= maxDepth else { throw fail("nested deeper than \(maxDepth) levels") }
        index += 1
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw unexpected("a member name in double quotes") }
            let keyOffset = index
            let key = try string()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw unexpected("':' after a member name") }
            index += 1
            // A repeated name is refused: parsers disagree on which one wins, and an intermediary
            // must never read a different command than Concord does.
            guard members.updateValue(try value(depth: depth), forKey: key) == nil else {
                throw fail("repeated member name \"\(key.prefix(64))\"", at: keyOffset)
            }
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            guard index < bytes.count, bytes[index] == UInt8(ascii: "}") else { throw unexpected("',' or '}'") }
            index += 1
            return .object(members)
        }
    }

    private mutating func array(depth: Int) throws(Failure) -> JSONValue {
        guard depth <= maxDepth else { throw fail("nested deeper than \(maxDepth) levels") }
        index += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            elements.append(try value(depth: depth))
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            guard index < bytes.count, bytes[index] == UInt8(ascii: "]") else { throw unexpected("',' or ']'") }
            index += 1
            return .array(elements)
        }
    }

    /// A string: raw runs are copied as they are (validated as UTF-8), escapes decoded.
    private mutating func string() throws(Failure) -> String {
        let opening = index
        index += 1
        var start = index
        var decoded: [UInt8]?
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let raw = UnsafeBufferPointer(rebasing: bytes[start..<index])
                index += 1
                if var done = decoded {
                    done.append(contentsOf: raw)
                    guard let s = String(validating: done, as: UTF8.self) else { throw fail("a string that is not valid UTF-8", at: opening) }
                    return s
                }
                guard let s = String(validating: raw, as: UTF8.self) else { throw fail("a string that is not valid UTF-8", at: opening) }
                return s
            }
            if byte < 0x20 { throw fail("a control character (0x\(String(byte, radix: 16))) inside a string: escape it") }
            if byte == UInt8(ascii: "\\") {
                if decoded == nil { decoded = [] }
                decoded!.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
                try escape(into: &decoded!)
                start = index
                continue
            }
            index += 1
        }
        throw fail("the text ends early (truncated?): a string is not closed", at: opening)
    }

    private mutating func escape(into out: inout [UInt8]) throws(Failure) {
        let backslash = index
        index += 1
        guard index < bytes.count else { throw fail("the text ends early (truncated?): an escape is cut", at: backslash) }
        let byte = bytes[index]
        index += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(byte)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try hex4()
            if (0xD800...0xDBFF).contains(scalar) {
                // A high surrogate must be followed by an escaped low one.
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                    throw fail("a high surrogate escape not followed by a low one", at: backslash)
                }
                index += 2
                let low = try hex4()
                guard (0xDC00...0xDFFF).contains(low) else { throw fail("a high surrogate escape not followed by a low one", at: backslash) }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(scalar) {
                throw fail("a lone low surrogate escape", at: backslash)
            }
            guard let unicode = Unicode.Scalar(scalar) else { throw fail("an escape that is not a Unicode scalar", at: backslash) }
            out.append(contentsOf: String(Character(unicode)).utf8)
        default:
            throw fail("an unknown escape", at: backslash)
        }
    }

    private mutating func hex4() throws(Failure) -> UInt32 {
        guard index + 4 <= bytes.count else { throw fail("the text ends early (truncated?): a \\u escape needs four hex digits") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw fail("a \\u escape needs four hex digits")
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    /// `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`: integers that fit stay exact.
    private mutating func number() throws(Failure) -> JSONValue {
        let start = index
        var isInteger = true
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        if index < bytes.count, bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else if index < bytes.count, (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(bytes[index]) {
            skipDigits()
        } else {
            throw index == start ? unexpected("a value") : unexpected("a digit")
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            guard try digitsFollow() else { throw unexpected("a digit after '.'") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard try digitsFollow() else { throw unexpected("a digit in the exponent") }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        if isInteger, let exact = Int64(text) { return .int(exact) }
        guard let double = Double(text), double.isFinite else { throw fail("a number out of range", at: start) }
        return .double(double)
    }

    private mutating func digitsFollow() throws(Failure) -> Bool {
        let before = index
        skipDigits()
        return index > before
    }

    private mutating func skipDigits() {
        while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
    }
}
