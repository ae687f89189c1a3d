import Testing
@testable import ConcordCore

@Suite("One ordered expiry structure")
struct ExpiryQueueTests {
    @Test func expiresExactlyAtTheDeadlineInOrder() {
        var queue = ExpiryQueue<String>()
        queue.schedule("b", at: 200)
        queue.schedule("a", at: 100)
        queue.schedule("c", at: 300)
        #expect(queue.nextDeadline() == 100)
        #expect(queue.popExpired(now: 99) == [])
        #expect(queue.popExpired(now: 100) == ["a"])
        #expect(queue.popExpired(now: 1000) == ["b", "c"])
        #expect(queue.isEmpty)
        #expect(queue.nextDeadline() == nil)
    }

    @Test func movingADeadlineLeavesNoStaleExpiry() {
        var queue = ExpiryQueue<String>()
        queue.schedule("a", at: 100)
        queue.schedule("a", at: 500)
        #expect(queue.nextDeadline() == 500)
        #expect(queue.popExpired(now: 499) == [])
        #expect(queue.popExpired(now: 500) == ["a"])
        queue.schedule("b", at: 100)
        queue.cancel("b")
        #expect(queue.popExpired(now: 10_000) == [])
        #expect(queue.count == 0)
    }

    @Test func manyRefreshesStayBounded() {
        var queue = ExpiryQueue<Int>()
        for round in 0..<100 {
            for key in 0..<50 { queue.schedule(key, at: Int64(1000 + round)) }
        }
        #expect(queue.count == 50)
        #expect(queue.popExpired(now: 1098) == [])
        #expect(queue.popExpired(now: 1099).sorted() == Array(0..<50))
    }
}
