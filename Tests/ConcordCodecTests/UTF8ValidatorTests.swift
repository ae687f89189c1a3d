import ConcordCodec
import ConcordCore
import Testing

@Suite struct UTF8ValidatorTests {
    @Test func acceptsValidText() {
        for text in [
            "", "plain ascii that is longer than eight bytes", "héllo", "€uro", "𝄞 clef", "日本語のテキスト", "\u{10FFFF}",
            "\u{7F}\u{80}\u{7FF}\u{800}\u{FFFF}\u{10000}",
        ] {
            #expect(UTF8Validator.isValid(bytes(text)), "\(text)")
        }
    }

    @Test(
        arguments: [
            [0xC0, 0x80], [0xC1, 0xBF],  // overlong 2-byte
            [0xE0, 0x80, 0x80], [0xE0, 0x9F, 0xBF],  // overlong 3-byte
            [0xF0, 0x80, 0x80, 0x80], [0xF0, 0x8F, 0xBF, 0xBF],  // overlong 4-byte
            [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF],  // surrogates
            [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xFF],  // past U+10FFFF, never-used bytes
            [0x80], [0x61, 0xBF],  // lone continuation bytes
            [0xC3, 0x41], [0xE2, 0x82, 0x41],  // sequence interrupted
        ] as [[UInt8]])
    func rejectsInvalidSequences(sequence: [UInt8]) {
        #expect(!UTF8Validator.isValid(sequence))
        // Invalid whatever precedes it, including a run long enough for the ASCII fast path.
        #expect(!UTF8Validator.isValid(bytes("0123456789abcdef") + sequence))
    }

    @Test func truncatedSequenceIsIncompleteNotInvalid() {
        var validator = UTF8Validator()
        let prefixValid = validator.feedBytes([0x61, 0xE2, 0x82])
        #expect(prefixValid)
        #expect(validator.isValid)
        #expect(!validator.isComplete)
        let restValid = validator.feedBytes([0xAC])
        #expect(restValid)
        #expect(validator.isComplete)
        #expect(!UTF8Validator.isValid([0xF0, 0x9F, 0x98]))
    }

    @Test func feedingInAnySplitGivesTheSameAnswer() {
        let text = bytes("aé€𝄞 long ascii run here! ") + [0xF4, 0x8F, 0xBF, 0xBF]
        for cut in 0...text.count {
            var validator = UTF8Validator()
            text[..<cut].withUnsafeBytes { _ = validator.feed($0) }
            text[cut...].withUnsafeBytes { _ = validator.feed($0) }
            #expect(validator.isComplete, "cut at \(cut)")
        }
    }

    @Test func failsAtTheFirstBadByte() {
        var validator = UTF8Validator()
        let surrogateValid = validator.feedBytes([0x61, 0xED, 0xA0])
        #expect(!surrogateValid)
        // Stays failed even if what follows is fine.
        let afterValid = validator.feedBytes([0x61])
        #expect(!afterValid)
        validator.reset()
        #expect(validator.isComplete)
    }

    /// Compares against the standard library's own validation on pseudo-random byte strings biased
    /// towards the interesting lead and continuation bytes.
    @Test func agreesWithTheStandardLibrary() {
        var generator = SplitMix64(seed: 0xC0DEC)
        let alphabet: [UInt8] = [
            0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF,
            0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF,
        ]
        for _ in 0..<20_000 {
            let length = Int(generator.next() % 12)
            let sample = (0..<length).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }
            let expected = String(validating: sample, as: UTF8.self) != nil
            #expect(UTF8Validator.isValid(sample) == expected, "\(sample)")
        }
    }
}

extension UTF8Validator {
    /// Feeds an array and returns the verdict.
    mutating func feedBytes(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { feed($0) }
    }
}
