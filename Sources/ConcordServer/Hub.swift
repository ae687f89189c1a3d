import ConcordCore
import ConcordUV

/// This node's fan-out: who here subscribes to which channel and watches presence and typing where,
/// and the one path by which events and changes reach them, whoever reported them (this node's
/// commands, or a backend carrying another node's). Frames each event or change once and writes the
/// same bytes to every recipient.
final class Hub {
    /// This node's subscriptions, indexed for delivery.
    private(set) var registry = ChannelRegistry<Connection>()
    /// Subscriptions that asked for coalescing: kept apart, so the live fan-out loop never looks
    /// at them; their events go through the coalescer.
    private(set) var coalescing = ChannelRegistry<Connection>()
    private var coalescer = Coalescer<CoalescingKey>()
    /// Each coalescing subscription's window, and its name as the client wrote it (echoed in `sub`).
    private var windows: [CoalescingKey: (milliseconds: Int64, sub: JSONValue)] = [:]
    private var coalescingNames: [Connection: Set<String>] = [:]
    /// Server-Sent Events streams: one subscription each, framed as SSE, not WebSocket.
    private(set) var eventStreams = ChannelRegistry<Connection>()
    private var presenceWatchers: [String: Set<Connection>] = [:]
    private var typingWatchers: [String: Set<Connection>] = [:]
    private let metrics: ServerMetrics
    /// The loop's milliseconds, for coalescing windows.
    private let ticks: () -> Int64

    struct CoalescingKey: Hashable {
        let connection: Connection
        let sub: String
    }

    init(metrics: ServerMetrics, ticks: @escaping () -> Int64) {
        self.metrics = metrics
        self.ticks = ticks
    }

    // MARK: Subscriptions and watches

    var subscriptionCount: Int { registry.subscriptionCount + coalescing.subscriptionCount + eventStreams.subscriptionCount }
    var activeChannelCount: Int { registry.activeChannelCount + coalescing.activeChannelCount + eventStreams.activeChannelCount }

    /// An event stream's one subscription.
    func subscribeStream(_ connection: Connection, channel: String, filter: SubscriptionFilter) throws(ProtocolError) {
        try eventStreams.subscribe(connection, name: "sse", channel: channel, filter: filter, limit: 1)
    }

    /// Whether the connection has a subscription by this name, coalescing or not.
    func hasSubscription(_ connection: Connection, name: String) -> Bool {
        registry.channel(of: connection, name: name) != nil || coalescing.channel(of: connection, name: name) != nil
    }

    /// Adds a subscription; with `coalesce`, its events come at most once per that many ms.
    func subscribe(_ connection: Connection, sub: JSONValue, channel: String, filter: SubscriptionFilter, coalesce: Int64?) throws(ProtocolError) {
        let name = sub.idString!
        guard !hasSubscription(connection, name: name) else {
            throw ProtocolError(.duplicateSubscription, "subscription \"\(name)\" already exists")
        }
        guard let coalesce else {
            return try registry.subscribe(connection, name: name, channel: channel, filter: filter, limit: .max)
        }
        try coalescing.subscribe(connection, name: name, channel: channel, filter: filter, limit: .max)
        windows[CoalescingKey(connection: connection, sub: name)] = (coalesce, sub)
        coalescingNames[connection, default: []].insert(name)
    }

    /// Removes one subscription; returns its channel, and whether anyone here still subscribes there.
    func unsubscribe(_ connection: Connection, name: String) throws(ProtocolError) -> (channel: String, stillSubscribed: Bool) {
        let channel: String
        if coalescing.channel(of: connection, name: name) != nil {
            channel = try coalescing.unsubscribe(connection, name: name)
            endCoalescing(CoalescingKey(connection: connection, sub: name))
        } else {
            channel = try registry.unsubscribe(connection, name: name)
        }
        return (channel, hasSubscribers(channel))
    }

    /// Every connection here with a subscription on the channel, of any kind, once each.
    func subscribers(of channel: String) -> Set<Connection> {
        Set(registry.subscribers(of: channel) + coalescing.subscribers(of: channel) + eventStreams.subscribers(of: channel))
    }

    private func hasSubscribers(_ channel: String) -> Bool {
        registry.hasSubscribers(channel) || coalescing.hasSubscribers(channel) || eventStreams.hasSubscribers(channel)
    }

    private func endCoalescing(_ key: CoalescingKey) {
        coalescer.remove(key)
        windows[key] = nil
        coalescingNames[key.connection]?.remove(key.sub)
        if coalescingNames[key.connection]?.isEmpty == true { coalescingNames[key.connection] = nil }
    }

    func watchPresence(_ channel: String, _ connection: Connection) { presenceWatchers[channel, default: []].insert(connection) }
    func unwatchPresence(_ channel: String, _ connection: Connection) { Self.remove(connection, channel, from: &presenceWatchers) }
    func watchTyping(_ channel: String, _ connection: Connection) { typingWatchers[channel, default: []].insert(connection) }
    func unwatchTyping(_ channel: String, _ connection: Connection) { Self.remove(connection, channel, from: &typingWatchers) }

    /// Drops everything of a connection that closed; returns the channels no one here subscribes to any more.
    func removeAll(_ connection: Connection) -> [String] {
        for channel in connection.session.watches(.presence) { Self.remove(connection, channel, from: &presenceWatchers) }
        for channel in connection.session.watches(.typing) { Self.remove(connection, channel, from: &typingWatchers) }
        for name in coalescingNames[connection] ?? [] { endCoalescing(CoalescingKey(connection: connection, sub: name)) }
        let channels = registry.removeAll(of: connection).union(coalescing.removeAll(of: connection))
            .union(eventStreams.removeAll(of: connection))
        return channels.filter { !hasSubscribers($0) }
    }

    private static func remove(_ connection: Connection, _ channel: String, from watchers: inout [String: Set<Connection>]) {
        watchers[channel]?.remove(connection)
        if watchers[channel]?.isEmpty == true { watchers[channel] = nil }
    }

    // MARK: Delivery

    /// An event, to every connection here with an admitting subscription.
    func deliver(_ published: PublishedEvent) {
        var frame: SharedBytes?
        var delivered: Int64 = 0
        registry.forEachRecipient(of: published.event) { connection in
            if frame == nil { frame = Connection.frame(.text, published.frame ?? ServerFrame.event(published.event, offset: published.position.offset)) }
            if connection.deliver(frame!) { delivered += 1 }
        }
        if delivered > 0 { metrics.messagesOut.increment(by: delivered) }
        if coalescing.hasSubscribers(published.event.channel) { coalesce(published) }
        if eventStreams.hasSubscribers(published.event.channel) { stream(published) }
    }

    /// To every event stream that admits the event, framed once as SSE.
    private func stream(_ published: PublishedEvent) {
        var frame: SharedBytes?
        var sent: Int64 = 0
        eventStreams.forEachRecipient(of: published.event) { connection in
            if frame == nil { frame = SharedBytes(ServerFrame.sseEvent(published.event.body, position: published.position)) }
            if connection.deliver(frame!) { sent += 1 }
        }
        metrics.messagesOut.increment(by: sent)
    }

    // MARK: Coalescing

    /// Offers an event to every coalescing subscription it is for: the first of a window goes out at once.
    private func coalesce(_ published: PublishedEvent) {
        let now = ticks()
        coalescing.forEachSubscription(admitting: published.event) { connection, name in
            let key = CoalescingKey(connection: connection, sub: name)
            // The window's length is looked up only when one opens: in a burst, an offer is an append.
            guard
                let delivery = coalescer.offer(
                    published.event, offset: published.position.offset, to: key,
                    windowMilliseconds: windows[key]?.milliseconds ?? 1_000, now: now)
            else { return }
            send([delivery], to: key)
        }
    }

    var nextCoalescingDeadline: Int64? { coalescer.nextDeadline() }

    /// Sends what the windows ended by `now` kept.
    func coalescingDue(now: Int64) {
        for (key, deliveries) in coalescer.due(now: now) { send(deliveries, to: key) }
    }

    /// Events for one subscription alone: each names it (`sub`).
    private func send(_ deliveries: [Coalescer<CoalescingKey>.Delivery], to key: CoalescingKey) {
        guard let sub = windows[key]?.sub else { return }
        for delivery in deliveries {
            let frame = ServerFrame.replayed(ServerFrame.event(delivery.event, offset: delivery.offset), sub: sub)
            if key.connection.deliver(Connection.frame(.text, frame)) { metrics.messagesOut.increment() }
        }
    }

    /// A presence change, to the channel's presence watchers.
    func deliver(_ change: PresenceChange) {
        guard let watchers = presenceWatchers[change.channel], !watchers.isEmpty else { return }
        let frame = Connection.frame(.text, ServerFrame.presenceEvent(change))
        var sent: Int64 = 0
        for watcher in watchers where watcher.deliver(frame) { sent += 1 }
        metrics.messagesOut.increment(by: sent)
    }

    /// A typing change, to the channel's typing watchers except the typist's own connections.
    func deliver(_ change: TypingRegistry.Change) {
        let (channel, typist): (String, TypingRegistry.Typist)
        switch change {
        case .started(let c, let t), .stopped(let c, let t): (channel, typist) = (c, t)
        }
        guard let watchers = typingWatchers[channel], !watchers.isEmpty else { return }
        var frame: SharedBytes?
        var sent: Int64 = 0
        for watcher in watchers where watcher.session.user != typist.user {
            if frame == nil { frame = Connection.frame(.text, ServerFrame.typingEvent(change)) }
            if watcher.deliver(frame!) { sent += 1 }
        }
        metrics.messagesOut.increment(by: sent)
    }
}
