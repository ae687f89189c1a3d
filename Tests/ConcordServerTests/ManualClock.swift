import ConcordCore
import ConcordServer
import Foundation

/// A clock the test moves by hand: the server's deadlines and dates read it instead of the system's.
/// It starts at the real wall time, so tokens signed now are valid.
final class ManualClock: ServerClock, @unchecked Sendable {
    private let lock = NSLock()
    private var monotonic: Int64 = 1_000_000
    private var wall = Int64(Date().timeIntervalSince1970 * 1000)

    func monotonicMilliseconds() -> Int64 { lock.withLock { monotonic } }
    func wallNow() -> Timestamp { lock.withLock { Timestamp(milliseconds: wall) } }

    func advance(by milliseconds: Int64) {
        lock.withLock {
            monotonic += milliseconds
            wall += milliseconds
        }
    }
}
