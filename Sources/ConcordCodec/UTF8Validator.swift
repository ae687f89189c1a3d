/// An incremental UTF-8 validator: feed bytes in any split, learn of an error at the first bad byte.
///
/// It accepts exactly the well-formed sequences of Unicode Table 3-7, so overlong forms, UTF-16
/// surrogates (U+D800...U+DFFF) and code points past U+10FFFF are rejected where their first
/// impossible byte appears. A sequence cut off at the end is only an error once the caller says the
/// text is over (`isComplete`), which is what lets a WebSocket decoder validate fragment by fragment.
public struct UTF8Validator: Sendable {
    /// Continuation bytes still owed by the sequence in progress (0 between code points).
    private var pending: UInt8 = 0
    /// The range the next continuation byte must fall in. Only the first continuation byte is ever
    /// narrower than 0x80...0xBF; that narrowing is how overlongs, surrogates and > U+10FFFF are caught.
    private var low: UInt8 = 0x80
    private var high: UInt8 = 0xBF
    private var failed = false

    public init() {}

    /// False once any invalid byte has been seen; stays false until `reset()`.
    public var isValid: Bool { !failed }

    /// True when everything fed so far is valid and no multi-byte sequence is left open.
    public var isComplete: Bool { !failed && pending == 0 }

    public mutating func reset() {
        self = UTF8Validator()
    }

    /// Validates `bytes` as the continuation of what came before; returns `isValid`.
    @discardableResult
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !failed else { return false }
        guard let base = bytes.baseAddress else { return true }
        let count = bytes.count
        var index = 0
        while index < count {
            if pending == 0 {
                // Realtime traffic is mostly JSON, mostly ASCII: skip 8 bytes per step while no byte
                // has its high bit set.
                while index + 8 <= count {
                    let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                    if word & 0x8080_8080_8080_8080 != 0 { break }
                    index += 8
                }
                guard index < count else { break }
            }
            let byte = base.load(fromByteOffset: index, as: UInt8.self)
            index += 1
            if pending > 0 {
                guard byte >= low && byte <= high else { failed = true; return false }
                pending -= 1
                low = 0x80
                high = 0xBF
                continue
            }
            switch byte {
            case 0x00...0x7F:
                continue
            case 0xC2...0xDF:
                pending = 1
            case 0xE0:
                pending = 2; low = 0xA0  // below A0 would be an overlong 3-byte form
            case 0xED:
                pending = 2; high = 0x9F  // A0...BF would encode a surrogate
            case 0xE1...0xEC, 0xEE...0xEF:
                pending = 2
            case 0xF0:
                pending = 3; low = 0x90  // below 90 would be an overlong 4-byte form
            case 0xF1...0xF3:
                pending = 3
            case 0xF4:
                pending = 3; high = 0x8F  // above 8F would be past U+10FFFF
            default:
                // 80...BF cannot start a sequence; C0, C1 are always overlong; F5...FF never occur.
                failed = true
                return false
            }
        }
        return true
    }

    /// Whether `bytes` is, on its own, complete and valid UTF-8.
    public static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var validator = UTF8Validator()
        return validator.feed(bytes) && validator.isComplete
    }

    /// Whether `bytes` is, on its own, complete and valid UTF-8.
    public static func isValid(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { isValid($0) }
    }
}
