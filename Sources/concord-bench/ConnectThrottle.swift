/// Starts connections a bounded number at a time, so the server's listen backlog never overflows
/// (an overflowed backlog turns into SYN retries and seconds-long stalls).
final class ConnectThrottle {
    let total: Int
    let concurrency: Int
    private(set) var started = 0
    private var inProgress = 0
    private var done = false
    /// Guards `pump` against itself: a connect that fails at once re-enters it.
    private var opening = false
    /// Starts connection number `index` (0-based); it must later call `settled()` exactly once.
    private let start: (Int) -> Void
    /// Called once, when every connection has been started and has settled.
    var onAllSettled: (() -> Void)?

    init(total: Int, concurrency: Int, start: @escaping (Int) -> Void) {
        self.total = total
        self.concurrency = concurrency
        self.start = start
    }

    /// One connection finished its setup, successfully or not: its slot goes to the next one.
    func settled() {
        inProgress -= 1
        pump()
    }

    /// Starts connections until `concurrency` are in progress or all have been started.
    func pump() {
        guard !opening else { return }
        opening = true
        defer { opening = false }
        while inProgress < concurrency && started < total {
            let index = started
            started += 1
            inProgress += 1
            start(index)
        }
        if inProgress == 0 && started == total && !done {
            done = true
            // The completion may start the next phase, which may open more: let it in.
            opening = false
            onAllSettled?()
            onAllSettled = nil
        }
    }
}
