import ConcordUV

/// Opens the subscribers through a `ConnectThrottle` and keeps the counts of setup and losses.
final class SubscriberPool {
    let plan: FanoutPlan
    private let loop: EventLoop
    private unowned let tracker: DeliveryTracker
    private(set) var subscribers: [Subscriber] = []
    private var throttle: ConnectThrottle!
    private(set) var ready = 0
    /// Subscribed connections per channel, which is what each channel's events must reach.
    private(set) var readyPerChannel: [Int]
    /// Subscribed connections per node (`plan.nodePorts`).
    private(set) var readyPerNode: [Int]
    private let channelNames: [String]
    private(set) var failed = 0
    /// The first reason a subscriber could not connect or was lost: usually explains all the others.
    private(set) var firstFailure: String?
    /// Set once setup is over; failures after that are losses that the tracker must hear about.
    private var setupDone = false
    /// Called once every subscriber is either subscribed or has failed; the tracker's target must
    /// be set inside it, since later losses lower that target.
    var onSetupComplete: (() -> Void)?

    init(loop: EventLoop, plan: FanoutPlan, tracker: DeliveryTracker) {
        self.loop = loop
        self.plan = plan
        self.tracker = tracker
        subscribers.reserveCapacity(plan.subscribers)
        readyPerChannel = Array(repeating: 0, count: plan.channels)
        readyPerNode = Array(repeating: 0, count: plan.nodePorts.count)
        channelNames = plan.channelNames()
        throttle = ConnectThrottle(total: plan.subscribers, concurrency: plan.connectConcurrency) { [unowned self] index in
            let channel = index % self.plan.channels
            let node = self.plan.node(ofSubscriber: index)
            let subscriber = Subscriber(pool: self, tracker: self.tracker, channel: channel, channelName: self.channelNames[channel], node: node)
            self.subscribers.append(subscriber)
            subscriber.start(loop: self.loop, host: self.plan.host, port: self.plan.nodePorts[node])
        }
        throttle.onAllSettled = { [unowned self] in
            self.setupDone = true
            self.onSetupComplete?()
            self.onSetupComplete = nil
        }
    }

    func open() {
        throttle.pump()
    }

    func subscriberReady(_ subscriber: Subscriber) {
        ready += 1
        readyPerChannel[subscriber.channel] += 1
        readyPerNode[subscriber.node] += 1
        throttle.settled()
    }

    func subscriberFailed(_ subscriber: Subscriber, why: String, wasReady: Bool) {
        if firstFailure == nil { firstFailure = why }
        failed += 1
        if !wasReady {
            throttle.settled()
        } else if setupDone {
            tracker.lost(channel: subscriber.channel, expected: subscriber.expected)
        } else {
            // Lost while others were still subscribing: it simply does not count.
            ready -= 1
            readyPerChannel[subscriber.channel] -= 1
            readyPerNode[subscriber.node] -= 1
        }
    }

    /// Adds the missing tail of every live subscriber to the error counts (after a timeout).
    func recordShortfalls() {
        for subscriber in subscribers where subscriber.phase == .ready {
            tracker.recordShortfall(expected: subscriber.expected)
        }
    }

    /// Deliveries read by the subscribers of each node.
    func deliveriesPerNode() -> [Int] {
        var counts = Array(repeating: 0, count: plan.nodePorts.count)
        for subscriber in subscribers { counts[subscriber.node] += subscriber.received }
        return counts
    }

    func closeAll() {
        for subscriber in subscribers { subscriber.close() }
    }
}
