import Histogram

/// Counts deliveries per event, records publish-to-receive latency, and says when an event has
/// reached every subscriber, which is what the publish window waits for.
final class DeliveryTracker {
    /// Problems seen, each counted where it is detected.
    struct Errors {
        /// Events a subscriber skipped or never received before the end.
        var missing = 0
        /// Pushes whose seq is at or below one already seen on that connection (duplicate or reordered).
        var outOfOrder = 0
        /// Text frames that are neither a known reply nor an event with `seq` and `t`.
        var malformed = 0
        /// `error` frames from the server.
        var serverErrors = 0
        /// Subscribers whose connection ended during the publish phase.
        var disconnects = 0
        /// Publish requests the server refused (not 200 from Concord, not 2xx from nchan or the floor).
        var publishFailures = 0

        var total: Int { missing + outOfOrder + malformed + serverErrors + disconnects + publishFailures }
    }

    let events: Int
    /// Event seq goes to channel seq mod `channels`.
    let channels: Int
    /// How many subscribers each channel's events must reach: the subscribed ones, minus any lost since.
    private(set) var recipients: [Int]
    private(set) var sent = 0
    private(set) var completed = 0
    private(set) var deliveries = 0
    /// Bytes of the delivered messages (payloads, without WebSocket framing).
    private(set) var deliveredBytes = 0
    /// Socket reads by subscribers during the publish phase: deliveries per read shows how much the
    /// server batched its writes, which is what its CPU per delivery depends on most.
    var subscriberReads = 0
    var errors = Errors()
    /// Latency in microseconds; one bucket per 0.1% of value (three significant digits).
    private(set) var latency: Histogram<UInt64>

    /// Deliveries (and skips) seen per event, and whether it has already counted as complete.
    private var settled: [Int32]
    private var isComplete: [Bool]
    private var oldestIncomplete = 0
    /// Called each time an event has reached every subscriber it can.
    var onEventComplete: (() -> Void)?

    init(events: Int, channels: Int, timeoutSeconds: Int) {
        self.events = events
        self.channels = channels
        recipients = Array(repeating: 0, count: channels)
        settled = Array(repeating: 0, count: events)
        isComplete = Array(repeating: false, count: events)
        latency = Histogram(highestTrackableValue: UInt64(timeoutSeconds + 60) * 1_000_000, numberOfSignificantValueDigits: .three)
        latency.autoResize = true
    }

    /// Fixes the number of subscribers on each channel; call once setup has finished.
    func begin(recipients: [Int]) {
        self.recipients = recipients
    }

    /// Event `seq` went out; one for a channel nobody is subscribed to is complete at once.
    func published(seq: Int) {
        sent += 1
        if recipients[seq % channels] == 0 { complete(seq) }
    }

    /// An in-order delivery of `seq`, `bytes` long, received `latencyNanoseconds` after it was sent.
    @inline(__always)
    func delivered(seq: Int, bytes: Int, latencyNanoseconds: UInt64) {
        deliveries += 1
        deliveredBytes += bytes
        latency.record(latencyNanoseconds / 1000)
        settle(seq)
    }

    /// A subscriber jumped over `seqs`: they will never come, so stop waiting for them.
    func skipped(_ seqs: StrideTo<Int>) {
        for seq in seqs {
            errors.missing += 1
            settle(seq)
        }
    }

    /// A subscriber of `channel` is gone; `expected` is the first event it had not received.
    func lost(channel: Int, expected: Int) {
        errors.disconnects += 1
        recordShortfall(expected: expected)
        recipients[channel] -= 1
        // Events in flight may now have reached everyone left.
        var seq = oldestIncomplete
        while seq < sent {
            if !isComplete[seq] && Int(settled[seq]) >= recipients[seq % channels] { complete(seq) }
            seq += 1
        }
    }

    /// A subscriber still short of its channel's last events when the run ended (a timeout).
    func recordShortfall(expected: Int) {
        if expected < events { errors.missing += (events - expected + channels - 1) / channels }
    }

    @inline(__always)
    private func settle(_ seq: Int) {
        settled[seq] += 1
        if Int(settled[seq]) >= recipients[seq % channels] && !isComplete[seq] { complete(seq) }
    }

    private func complete(_ seq: Int) {
        isComplete[seq] = true
        completed += 1
        while oldestIncomplete < events && isComplete[oldestIncomplete] { oldestIncomplete += 1 }
        onEventComplete?()
    }

    /// Events sent but not yet at every subscriber.
    var inFlight: Int { sent - completed }
}
