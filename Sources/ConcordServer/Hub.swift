import ConcordCore
import ConcordUV

/// This node's fan-out: who here subscribes to which channel and watches presence and typing where,
/// and the one path by which events and changes reach them, whoever reported them (this node's
/// commands, or a backend carrying another node's). Frames each event or change once and writes the
/// same bytes to every recipient.
final class Hub {
    /// This node's subscriptions, indexed for delivery.
    private(set) var registry = ChannelRegistry<Connection>()
    private var presenceWatchers: [String: Set<Connection>] = [:]
    private var typingWatchers: [String: Set<Connection>] = [:]
    private let metrics: ServerMetrics

    init(metrics: ServerMetrics) {
        self.metrics = metrics
    }

    // MARK: Subscriptions and watches

    func subscribe(_ connection: Connection, name: String, channel: String, filter: SubscriptionFilter, limit: Int) throws(ProtocolError) {
        try registry.subscribe(connection, name: name, channel: channel, filter: filter, limit: limit)
    }

    /// Removes one subscription; returns its channel, and whether anyone here still subscribes there.
    func unsubscribe(_ connection: Connection, name: String) throws(ProtocolError) -> (channel: String, stillSubscribed: Bool) {
        let channel = try registry.unsubscribe(connection, name: name)
        return (channel, registry.hasSubscribers(channel))
    }

    func watchPresence(_ channel: String, _ connection: Connection) { presenceWatchers[channel, default: []].insert(connection) }
    func unwatchPresence(_ channel: String, _ connection: Connection) { Self.remove(connection, channel, from: &presenceWatchers) }
    func watchTyping(_ channel: String, _ connection: Connection) { typingWatchers[channel, default: []].insert(connection) }
    func unwatchTyping(_ channel: String, _ connection: Connection) { Self.remove(connection, channel, from: &typingWatchers) }

    /// Drops everything of a connection that closed; returns the channels no one here subscribes to any more.
    func removeAll(_ connection: Connection) -> [String] {
        for channel in connection.session.watches(.presence) { Self.remove(connection, channel, from: &presenceWatchers) }
        for channel in connection.session.watches(.typing) { Self.remove(connection, channel, from: &typingWatchers) }
        return registry.removeAll(of: connection).filter { !registry.hasSubscribers($0) }
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
