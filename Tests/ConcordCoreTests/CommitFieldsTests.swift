import Testing
@testable import ConcordCore

@Suite("Commit field limits")
struct CommitFieldsTests {
    func code(_ value: JSONValue?) -> ErrorCode? {
        do { _ = try ClientCommand.commitFields(value); return nil } catch { return error.code }
    }

    @Test func acceptedShapes() throws {
        #expect(try ClientCommand.commitFields(nil) == nil)
        #expect(try ClientCommand.commitFields(.array([.string("title")])) == ["title": JSONValue?.none])
        #expect(
            try ClientCommand.commitFields(.object(["title": .string("Hi"), "body": .null])) == [
                "title": JSONValue?.some(.string("Hi")), "body": JSONValue?.none,
            ])
        let hundred = JSONValue.array((0..<ClientCommand.maxCommitFields).map { .string("f\($0)") })
        #expect(try ClientCommand.commitFields(hundred)?.count == 100)
    }

    @Test func limitsAnswerInvalidFrame() {
        #expect(code(.array((0...ClientCommand.maxCommitFields).map { .string("f\($0)") })) == .invalidFrame)
        #expect(code(.array([.string(String(repeating: "n", count: ClientCommand.maxFieldNameBytes + 1))])) == .invalidFrame)
        #expect(code(.array([.string("")])) == .invalidFrame)
        #expect(code(.object(["body": .string(String(repeating: "x", count: ClientCommand.maxCommitValueBytes))])) == .invalidFrame)
        #expect(code(.object([:])) == .invalidFrame)
        #expect(code(.array([.int(1)])) == .invalidFrame)
        #expect(code(.string("title")) == .invalidFrame)
    }
}
