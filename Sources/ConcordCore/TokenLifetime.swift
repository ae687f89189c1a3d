/// When a connection's token needs attention: the `token.expiring` notice, then the close with
/// 4001 once the token's deadline (its `exp` plus the clock-skew leeway) has passed.
///
/// A state machine on an injected clock: `check(now:)` says what to do now and when to look again;
/// the shell sends the frame or closes, and schedules the next check. A refreshed token starts a new
/// lifetime.
public struct TokenLifetime: Equatable, Sendable {
    /// The token's own expiry, as `token.expiring` and `welcome` give it.
    public let expiresAt: Timestamp
    /// After this the connection is closed: `expiresAt` plus the leeway the upgrade granted.
    public let deadline: Timestamp
    /// How long before the deadline the notice goes out (`--token-notice`).
    public let noticeMilliseconds: Int64
    /// When the notice is due.
    public let noticeAt: Timestamp
    public private(set) var noticeSent = false

    public enum Action: Equatable, Sendable {
        /// Push `token.expiring` now, then check again at the time given.
        case notice(thenCheckAt: Timestamp)
        /// Nothing to do yet; check again at the time given.
        case wait(until: Timestamp)
        /// The deadline passed: close with 4001.
        case expire
    }

    /// A lifetime that starts at `now` (the upgrade, or the `auth` that brought the token): the
    /// notice comes `noticeMilliseconds` before the deadline, but never sooner than halfway through
    /// what is left then, so that a token shorter-lived than the notice does not set off a stream
    /// of refreshes.
    public init(expiresAt: Timestamp, leewayMilliseconds: Int64, noticeMilliseconds: Int64, now: Timestamp) {
        self.expiresAt = expiresAt
        deadline = Timestamp(milliseconds: expiresAt.milliseconds + leewayMilliseconds)
        self.noticeMilliseconds = noticeMilliseconds
        let remaining = deadline.milliseconds - now.milliseconds
        noticeAt = Timestamp(milliseconds: now.milliseconds + max(0, max(remaining - noticeMilliseconds, remaining / 2)))
    }

    /// When to look next: the notice, then the deadline.
    public var nextCheck: Timestamp { noticeSent ? deadline : noticeAt }

    /// What the time `now` calls for.
    public mutating func check(now: Timestamp) -> Action {
        if now.milliseconds >= deadline.milliseconds { return .expire }
        if !noticeSent && now.milliseconds >= noticeAt.milliseconds {
            noticeSent = true
            return .notice(thenCheckAt: deadline)
        }
        return .wait(until: nextCheck)
    }
}
