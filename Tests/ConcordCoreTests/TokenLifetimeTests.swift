import Testing
@testable import ConcordCore

@Suite("Token lifetime: the notice, then 4001, on a manual clock")
struct TokenLifetimeTests {
    func t(_ ms: Int64) -> Timestamp { Timestamp(milliseconds: ms) }

    @Test func theNoticeComesBeforeTheDeadlineAndTheCloseAtIt() {
        // Expires at 200 s, 5 s of leeway, a 60 s notice, opened at 0: notice at 145 s, close at 205 s.
        var lifetime = TokenLifetime(expiresAt: t(200_000), leewayMilliseconds: 5_000, noticeMilliseconds: 60_000, now: t(0))
        #expect(lifetime.deadline == t(205_000))
        #expect(lifetime.nextCheck == t(145_000))
        #expect(lifetime.check(now: t(144_999)) == .wait(until: t(145_000)))
        #expect(lifetime.check(now: t(145_000)) == .notice(thenCheckAt: t(205_000)))
        // Once only: a later check after the notice just waits for the deadline.
        #expect(lifetime.check(now: t(150_000)) == .wait(until: t(205_000)))
        #expect(lifetime.check(now: t(204_999)) == .wait(until: t(205_000)))
        #expect(lifetime.check(now: t(205_000)) == .expire)
    }

    @Test func theNoticeIsNeverSoonerThanHalfwayThroughWhatIsLeft() {
        // 105 s left with a 60 s notice: 45 s in would be sooner than halfway, so 52.5 s.
        let lifetime = TokenLifetime(expiresAt: t(100_000), leewayMilliseconds: 5_000, noticeMilliseconds: 60_000, now: t(0))
        #expect(lifetime.noticeAt == t(52_500))
    }

    @Test func aTokenShorterThanTheNoticeIsNoticedHalfwayNotAtOnce() {
        // 10 s left with a 60 s notice: the notice waits until half of what is left, 5 s.
        var lifetime = TokenLifetime(expiresAt: t(10_000), leewayMilliseconds: 0, noticeMilliseconds: 60_000, now: t(0))
        #expect(lifetime.check(now: t(0)) == .wait(until: t(5_000)))
        #expect(lifetime.check(now: t(5_000)) == .notice(thenCheckAt: t(10_000)))
        #expect(lifetime.check(now: t(10_000)) == .expire)
    }

    @Test func aTokenAlreadyPastItsDeadlineExpiresAtTheFirstCheck() {
        var lifetime = TokenLifetime(expiresAt: t(1_000), leewayMilliseconds: 0, noticeMilliseconds: 60_000, now: t(2_000))
        #expect(lifetime.nextCheck == t(2_000))
        #expect(lifetime.check(now: t(2_000)) == .expire)
    }

    @Test func aRefreshStartsANewLifetimeWhoseDeadlineIsTheNewTokens() {
        var first = TokenLifetime(expiresAt: t(2_000), leewayMilliseconds: 0, noticeMilliseconds: 1_000, now: t(0))
        #expect(first.check(now: t(1_000)) == .notice(thenCheckAt: t(2_000)))
        // `auth` at 1.5 s with a token good until 60 s: the old deadline no longer applies.
        var fresh = TokenLifetime(expiresAt: t(60_000), leewayMilliseconds: 0, noticeMilliseconds: 1_000, now: t(1_500))
        #expect(fresh.check(now: t(2_500)) == .wait(until: t(59_000)))
        #expect(fresh.check(now: t(59_000)) == .notice(thenCheckAt: t(60_000)))
        #expect(fresh.check(now: t(60_000)) == .expire)
    }
}
