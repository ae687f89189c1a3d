import ConcordCore
import ConcordUV
import Foundation

/// Where the server reads the time: a monotonic clock in milliseconds for deadlines (liveness,
/// TTLs, token checks) and the wall clock for what is dated (events, token expiry). Injected, so
/// that tests drive time by hand (`ServerConfiguration.clock`) instead of sleeping.
public protocol ServerClock: AnyObject {
    /// Milliseconds on a clock that never goes back.
    func monotonicMilliseconds() -> Int64
    func wallNow() -> Timestamp
}

/// The real clocks: the loop's time (updated once per loop turn) and the system's wall clock.
final class SystemClock: ServerClock {
    private unowned let loop: EventLoop

    init(loop: EventLoop) { self.loop = loop }

    func monotonicMilliseconds() -> Int64 { Int64(loop.now) }

    func wallNow() -> Timestamp {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Timestamp(milliseconds: Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000)
    }
}
