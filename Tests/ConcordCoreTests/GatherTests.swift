import Testing
@testable import ConcordCore

@Suite("Gather: answers in the order asked, once the last has come")
struct GatherTests {
    @Test func answersArrivingOutOfOrderAreHandedOverInOrderOnce() {
        var handed: [[String]] = []
        let gather = Gather<String>(count: 3) { handed.append($0) }
        gather.arrived("c", at: 2)
        gather.arrived("a", at: 0)
        #expect(handed.isEmpty)
        gather.arrived("b", at: 1)
        #expect(handed == [["a", "b", "c"]])
    }

    @Test func nothingToWaitForIsHandedOverAtOnce() {
        var handed: [[Int]] = []
        _ = Gather<Int>(count: 0) { handed.append($0) }
        #expect(handed == [[]])
    }
}
