import Testing
@testable import ConcordCore

@Suite("Liveness: ping, idle drop, request and close deadlines, on a manual clock")
struct LivenessTests {
    let rules = Liveness(pingInterval: 4_000, idleTimeout: 9_000)

    @Test func aSilentWebSocketIsPingedThenDroppedAtTheIdleTimeout() {
        // Last byte at 1 s.
        #expect(rules.check(.webSocket, lastActivity: 1_000, now: 3_000) == .wait(until: 5_000))
        #expect(rules.check(.webSocket, lastActivity: 1_000, now: 5_000) == .ping(thenCheckAt: 9_000))
        #expect(rules.check(.webSocket, lastActivity: 1_000, now: 9_000) == .ping(thenCheckAt: 10_000))
        #expect(rules.check(.webSocket, lastActivity: 1_000, now: 10_000) == .drop(.idle))
    }

    @Test func aPongPutsTheNextCheckOffAgain() {
        // Pinged at 5 s, the pong arrives at 5.1 s: at the 9 s check it has been silent 3.9 s.
        #expect(rules.check(.webSocket, lastActivity: 5_100, now: 9_000) == .wait(until: 9_100))
    }

    @Test func anHTTPRequestMustBeWholeByItsDeadline() {
        #expect(rules.check(.http(requestDeadline: 10_000), lastActivity: 500, now: 2_000) == .wait(until: 9_500))
        #expect(rules.check(.http(requestDeadline: 3_000), lastActivity: 2_900, now: 3_000) == .drop(.requestTimeout))
        // Bytes keep coming (a trickle), yet the deadline holds.
        #expect(rules.check(.http(requestDeadline: 3_000), lastActivity: 2_999, now: 3_001) == .drop(.requestTimeout))
        // While a response is prepared there is no deadline; silence still ends it.
        #expect(rules.check(.http(requestDeadline: nil), lastActivity: 0, now: 8_999) == .wait(until: 9_000))
        #expect(rules.check(.http(requestDeadline: nil), lastActivity: 0, now: 9_000) == .drop(.idle))
    }

    @Test func aCloseThatDidNotFinishIsDroppedAtItsCheck() {
        #expect(rules.check(.closing, lastActivity: 0, now: 1) == .drop(.closeTimeout))
    }
}
