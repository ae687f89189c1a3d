/// Where an event sits in its channel's stream: the epoch that names the stream's history, and
/// the event's offset in it (1, 2, 3, ...). Offsets of different epochs are not comparable.
public struct StreamPosition: Equatable, Hashable, Sendable {
    public var offset: UInt64
    public var epoch: String

    public init(offset: UInt64, epoch: String) {
        self.offset = offset
        self.epoch = epoch
    }
}

/// An event with its place in its channel's stream, as a broker delivers it.
public struct PublishedEvent: Sendable {
    public var event: LiveEvent
    public var position: StreamPosition

    public init(event: LiveEvent, position: StreamPosition) {
        self.event = event
        self.position = position
    }
}

/// Why a broker could not do what it was asked; the server answers `unavailable`.
public struct BrokerFailure: Error, Equatable, Sendable {
    public var reason: String

    public init(_ reason: String) { self.reason = reason }
}

/// Carries events from publishers to the subscribers of this node, and numbers them per channel.
///
/// The contract every implementation keeps (and `BrokerContractTests` checks, for each one):
/// - Every call happens on the server's loop thread, and every callback runs there too.
/// - `publish` gives the event its channel's next position and calls `done` with it before the
///   event reaches `onEvent` on this node, so a publisher's acknowledgement precedes its own event.
///   Offsets of one channel increase by one per event, from 1, within an epoch.
/// - `onEvent` receives every event published, on any node, on the channels this node subscribes
///   to, in offset order per channel, and none of the others.
/// - `subscribe` answers with the channel's current position (offset 0 before any event): the
///   events after it are the ones `onEvent` will deliver. Subscribing twice, or unsubscribing a
///   channel not subscribed, is harmless: the server counts its local subscribers itself.
public protocol Broker: AnyObject {
    /// Where events for this node's subscribers arrive, whoever published them.
    var onEvent: ((PublishedEvent) -> Void)? { get set }
    func subscribe(_ channel: String, done: @escaping (Result<StreamPosition, BrokerFailure>) -> Void)
    func unsubscribe(_ channel: String)
    func publish(_ event: LiveEvent, done: @escaping (Result<StreamPosition, BrokerFailure>) -> Void)
}

/// The broker of a single node: streams numbered in memory under one epoch per process run, and
/// delivery as a plain call. Every callback runs before the method that caused it returns.
public final class MemoryBroker: Broker {
    public var onEvent: ((PublishedEvent) -> Void)?
    /// Names this run's streams: a restart starts new ones, so old offsets are never mistaken for new.
    public let epoch: String
    private var offsets: [String: UInt64] = [:]
    private var subscribed: Set<String> = []

    public init(epoch: String) {
        self.epoch = epoch
    }

    public func subscribe(_ channel: String, done: @escaping (Result<StreamPosition, BrokerFailure>) -> Void) {
        subscribed.insert(channel)
        done(.success(StreamPosition(offset: offsets[channel] ?? 0, epoch: epoch)))
    }

    public func unsubscribe(_ channel: String) {
        subscribed.remove(channel)
    }

    public func publish(_ event: LiveEvent, done: @escaping (Result<StreamPosition, BrokerFailure>) -> Void) {
        // In place: one hash lookup per publish.
        offsets[event.channel, default: 0] += 1
        let position = StreamPosition(offset: offsets[event.channel]!, epoch: epoch)
        done(.success(position))
        if subscribed.contains(event.channel) { onEvent?(PublishedEvent(event: event, position: position)) }
    }
}
