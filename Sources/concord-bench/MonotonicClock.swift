import Glibc

/// The monotonic clock in nanoseconds: publisher and subscribers share this process, so a
/// timestamp written into an event can be subtracted from the time it is read back.
enum MonotonicClock {
    @inline(__always)
    static func nanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
    }
}
