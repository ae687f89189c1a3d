import ConcordUV

/// Opens the subscribers a bounded number at a time, so the server's listen backlog never
/// overflows (an overflowed backlog turns into SYN retries and seconds-long stalls).
final class SubscriberPool {
    let plan: FanoutPlan
    private let loop: EventLoop
    private unowned let tracker: DeliveryTracker
    private(set) var subscribers: [Subscriber] = []
    private var inProgress = 0
    private(set) var ready = 0
    private(set) var failed = 0
    /// The first reason a subscriber could not connect or was lost: usually explains all the others.
    private(set) var firstFailure: String?
    /// Set once setup is over; failures after that are losses that the tracker must hear about.
    private var setupDone = false
    /// Guards `openMore` against itself: a connect that fails at once re-enters it.
    private var opening = false
    /// Called once every subscriber is either subscribed or has failed; the tracker's target must
    /// be set inside it, since later losses lower that target.
    var onSetupComplete: (() -> Void)?

    init(loop: EventLoop, plan: FanoutPlan, tracker: DeliveryTracker) {
        self.loop = loop
        self.plan = plan
        self.tracker = tracker
        subscribers.reserveCapacity(plan.subscribers)
    }

    func open() {
        openMore()
    }

    func subscriberReady(_ subscriber: Subscriber) {
        ready += 1
        inProgress -= 1
        openMore()
    }

    func subscriberFailed(_ subscriber: Subscriber, why: String, wasReady: Bool) {
        if firstFailure == nil { firstFailure = why }
        failed += 1
        if !wasReady {
            inProgress -= 1
            openMore()
        } else if setupDone {
            tracker.lost(expected: subscriber.expected)
        } else {
            // Lost while others were still subscribing: it simply does not count.
            ready -= 1
        }
    }

    /// Adds the missing tail of every live subscriber to the error counts (after a timeout).
    func recordShortfalls() {
        for subscriber in subscribers where subscriber.phase == .ready && subscriber.expected < tracker.events {
            tracker.recordShortfall(expected: subscriber.expected)
        }
    }

    func closeAll() {
        for subscriber in subscribers { subscriber.close() }
    }

    private func openMore() {
        guard !opening else { return }
        opening = true
        defer { opening = false }
        while inProgress < plan.connectConcurrency && subscribers.count < plan.subscribers {
            let subscriber = Subscriber(pool: self, tracker: tracker)
            subscribers.append(subscriber)
            inProgress += 1
            subscriber.start(loop: loop, host: plan.host, port: plan.port)
        }
        if inProgress == 0 && subscribers.count == plan.subscribers && !setupDone {
            setupDone = true
            opening = false
            onSetupComplete?()
            onSetupComplete = nil
        }
    }
}
