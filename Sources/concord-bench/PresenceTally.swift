import Histogram

/// Counts the replies and watcher pushes of one presence phase, times replies, and says when the
/// phase has every reply and every push it waits for.
final class PresenceTally {
    /// Problems seen, each counted where it is detected.
    struct Errors {
        /// `error` frames from the server.
        var serverErrors = 0
        /// Replies whose `id` is not the oldest command outstanding on that connection.
        var outOfOrder = 0
        /// Text frames that are neither an expected reply nor a presence push.
        var unexpected = 0

        var total: Int { serverErrors + outOfOrder + unexpected }
    }

    var errors = Errors()
    /// The first error frame or unexpected frame, which usually explains the others.
    private(set) var firstError: String?
    private(set) var replies = 0
    private(set) var watcherEvents = 0
    private(set) var joins = 0
    private(set) var leaves = 0
    /// Socket reads during the phase by user connections and by watchers: how many frames each
    /// server write carried, which is what the server's CPU per operation depends on most.
    var userReads = 0
    var watcherReads = 0
    private var expectedReplies = 0
    private var expectedWatcherEvents = 0
    private var complete = true
    /// Reply latency in microseconds, three significant digits; only the churn phase records it.
    private(set) var latency: Histogram<UInt64>
    private var recordsLatency = false
    /// Called at each watcher push (the kill run notes the first leave).
    var onWatcherEvent: (() -> Void)?
    /// Called once per phase, when the last expected reply and push have arrived.
    var onPhaseComplete: (() -> Void)?

    init(timeoutSeconds: Int) {
        latency = Histogram(highestTrackableValue: UInt64(timeoutSeconds + 60) * 1_000_000, numberOfSignificantValueDigits: .three)
        latency.autoResize = true
    }

    /// Starts a phase that waits for `replies` replies and `watcherEvents` pushes to watchers.
    func begin(replies: Int, watcherEvents: Int, timed: Bool) {
        self.replies = 0
        self.watcherEvents = 0
        joins = 0
        leaves = 0
        userReads = 0
        watcherReads = 0
        expectedReplies = replies
        expectedWatcherEvents = watcherEvents
        recordsLatency = timed
        complete = false
        check()
    }

    @inline(__always)
    func reply(latencyNanoseconds: UInt64) {
        replies += 1
        if recordsLatency { latency.record(latencyNanoseconds / 1000) }
        check()
    }

    @inline(__always)
    func watcherEvent(join: Bool) {
        watcherEvents += 1
        if join { joins += 1 } else { leaves += 1 }
        onWatcherEvent?()
        check()
    }

    func serverError(_ message: [UInt8]) {
        errors.serverErrors += 1
        if firstError == nil { firstError = "server error: " + String(decoding: message.prefix(200), as: UTF8.self) }
    }

    func unexpected(_ message: [UInt8]) {
        errors.unexpected += 1
        if firstError == nil { firstError = "unexpected frame: " + String(decoding: message.prefix(200), as: UTF8.self) }
    }

    private func check() {
        guard !complete, replies >= expectedReplies, watcherEvents >= expectedWatcherEvents else { return }
        complete = true
        onPhaseComplete?()
    }
}
