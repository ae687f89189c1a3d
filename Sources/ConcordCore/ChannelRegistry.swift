/// Who on this node is subscribed to what: the index behind local fan-out. Offsets are the
/// broker's (`Broker`), not this node's.
///
/// Generic over the subscriber so the server can store its connection objects directly (no lookup per
/// delivery) while tests use plain integers.
public struct ChannelRegistry<Subscriber: Hashable> {
    /// One subscriber's subscriptions on one channel; a connection gets an event once however many admit it.
    struct Member {
        var subscriber: Subscriber
        var subscriptions: [(name: String, filter: SubscriptionFilter)]

        func admits(_ event: LiveEvent) -> Bool {
            subscriptions.contains { $0.filter.admits(event) }
        }
    }

    struct Channel {
        /// Contiguous for a fast fan-out loop; `index` makes removal O(1) by swapping with the last.
        var members: ContiguousArray<Member> = []
        var index: [Subscriber: Int] = [:]
    }

    private var channels: [String: Channel] = [:]
    /// subscriber -> subscription name -> channel
    private var bySubscriber: [Subscriber: [String: String]] = [:]
    public private(set) var subscriptionCount = 0

    public init() {}

    /// Channels with at least one subscription.
    public var activeChannelCount: Int { channels.values.lazy.filter { !$0.members.isEmpty }.count }

    public func subscriptionCount(of subscriber: Subscriber) -> Int {
        bySubscriber[subscriber]?.count ?? 0
    }

    /// Whether any subscriber on this node has a subscription on the channel.
    public func hasSubscribers(_ channel: String) -> Bool {
        channels[channel] != nil
    }

    /// Every subscriber with a subscription on the channel.
    public func subscribers(of channel: String) -> [Subscriber] {
        channels[channel]?.members.map(\.subscriber) ?? []
    }

    /// Adds a subscription.
    public mutating func subscribe(
        _ subscriber: Subscriber, name: String, channel: String, filter: SubscriptionFilter, limit: Int
    ) throws(ProtocolError) {
        var names = bySubscriber[subscriber] ?? [:]
        if names[name] != nil {
            throw ProtocolError(.duplicateSubscription, "subscription \"\(name)\" already exists")
        }
        if names.count >= limit {
            throw ProtocolError(.tooManySubscriptions, "at most \(limit) subscriptions per connection")
        }
        names[name] = channel
        bySubscriber[subscriber] = names
        subscriptionCount += 1

        var state = channels.removeValue(forKey: channel) ?? Channel()
        if let i = state.index[subscriber] {
            state.members[i].subscriptions.append((name, filter))
        } else {
            state.index[subscriber] = state.members.count
            state.members.append(Member(subscriber: subscriber, subscriptions: [(name, filter)]))
        }
        channels[channel] = state
    }

    /// Removes one subscription and returns its channel.
    @discardableResult
    public mutating func unsubscribe(_ subscriber: Subscriber, name: String) throws(ProtocolError) -> String {
        guard let channel = bySubscriber[subscriber]?.removeValue(forKey: name) else {
            throw ProtocolError(.unknownSubscription, "no subscription \"\(name)\"")
        }
        if bySubscriber[subscriber]?.isEmpty == true { bySubscriber[subscriber] = nil }
        subscriptionCount -= 1
        modifyChannel(channel) { state in
            guard let i = state.index[subscriber] else { return }
            state.members[i].subscriptions.removeAll { $0.name == name }
            if state.members[i].subscriptions.isEmpty { Self.removeMember(at: i, from: &state) }
        }
        return channel
    }

    /// Drops every subscription of a subscriber (its connection closed); returns the channels it
    /// was on.
    @discardableResult
    public mutating func removeAll(of subscriber: Subscriber) -> Set<String> {
        guard let names = bySubscriber.removeValue(forKey: subscriber) else { return [] }
        subscriptionCount -= names.count
        let channels = Set(names.values)
        for channel in channels {
            modifyChannel(channel) { state in
                if let i = state.index[subscriber] { Self.removeMember(at: i, from: &state) }
            }
        }
        return channels
    }

    /// The channel of a subscriber's subscription by that name, or nil when it has none.
    public func channel(of subscriber: Subscriber, name: String) -> String? {
        bySubscriber[subscriber]?[name]
    }

    /// Calls `deliver` once per admitting subscription (not per subscriber), with its name.
    public func forEachSubscription(admitting event: LiveEvent, _ deliver: (Subscriber, String) -> Void) {
        guard let state = channels[event.channel] else { return }
        for member in state.members {
            for subscription in member.subscriptions where subscription.filter.admits(event) {
                deliver(member.subscriber, subscription.name)
            }
        }
    }

    /// Calls `deliver` once for every subscriber with at least one subscription admitting the event,
    /// in no particular order.
    public func forEachRecipient(of event: LiveEvent, _ deliver: (Subscriber) -> Void) {
        guard let state = channels[event.channel] else { return }
        // By index into the buffer: no copy of each member (its subscriptions array) per delivery.
        state.members.withUnsafeBufferPointer { members in
            for i in members.indices where members[i].admits(event) {
                deliver(members[i].subscriber)
            }
        }
    }

    private mutating func modifyChannel(_ channel: String, _ body: (inout Channel) -> Void) {
        var state = channels.removeValue(forKey: channel) ?? Channel()
        body(&state)
        // A channel without subscribers is forgotten.
        if !state.members.isEmpty { channels[channel] = state }
    }

    private static func removeMember(at i: Int, from state: inout Channel) {
        let removed = state.members[i].subscriber
        let last = state.members.count - 1
        if i != last {
            state.members.swapAt(i, last)
            state.index[state.members[i].subscriber] = i
        }
        state.members.removeLast()
        state.index[removed] = nil
    }
}
