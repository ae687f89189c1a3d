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
    /// The `event` push, when the broker already encoded it (for history); else the hub does.
    public var frame: [UInt8]?

    public init(event: LiveEvent, position: StreamPosition, frame: [UInt8]? = nil) {
        self.event = event
        self.position = position
        self.frame = frame
    }
}

/// Why a broker could not do what it was asked; the server answers `unavailable`.
public struct BrokerFailure: Error, Equatable, Sendable {
    public var reason: String

    public init(_ reason: String) { self.reason = reason }
}

/// What `subscribe` answers: the channel's position now, and, when the subscriber named the
/// position it last saw, whether what it missed can be replayed (and the events).
public struct BrokerSubscription: Sendable {
    public var position: StreamPosition
    public var recovery: Recovery?

    public init(position: StreamPosition, recovery: Recovery? = nil) {
        self.position = position
        self.recovery = recovery
    }
}

/// A channel's kept history, as `history` answers it.
public struct HistoryPage: Sendable {
    public var position: StreamPosition
    public var events: [HistoryEntry]
    /// Whether `events` holds everything after the position asked for (false: some is gone, or the
    /// epoch differs, or the page was cut at the limit).
    public var complete: Bool

    public init(position: StreamPosition, events: [HistoryEntry], complete: Bool) {
        self.position = position
        self.events = events
        self.complete = complete
    }
}

/// Carries events from publishers to the subscribers of this node, numbers them per channel, and
/// keeps each channel's recent history for subscribers that come back.
///
/// The contract every implementation keeps (and `BrokerContractTests` checks, for each one):
/// - Every call happens on the server's loop thread, and every callback runs there too.
/// - `publish` gives the event its channel's next position and calls `done` with it before the
///   event reaches `onEvent` on this node, so a publisher's acknowledgement precedes its own event.
///   Offsets of one channel increase by one per event, from 1, within an epoch; a channel's epoch
///   changes only when the history it names is gone.
/// - `onEvent` receives every event published, on any node, on the channels this node subscribes
///   to, in offset order per channel, and none of the others.
/// - `subscribe` answers with the channel's current position (offset 0 before any event): the
///   events after it are the ones `onEvent` will deliver, and `done` runs before any of them
///   does. With `since`, it also answers the recovery: every event after `since` up to that
///   position, in order, or why not (all or nothing). Subscribing twice, or unsubscribing a
///   channel not subscribed, is harmless: the server counts its local subscribers itself.
/// - History is bounded per channel by the `HistoryPolicy` (events and age), whatever the rate.
public protocol Broker: AnyObject {
    /// Where events for this node's subscribers arrive, whoever published them.
    var onEvent: ((PublishedEvent) -> Void)? { get set }
    func subscribe(_ channel: String, since: StreamPosition?, done: @escaping (Result<BrokerSubscription, BrokerFailure>) -> Void)
    func unsubscribe(_ channel: String)
    /// `now` is when the event is published, for the history's age limit.
    func publish(_ event: LiveEvent, at now: Timestamp, done: @escaping (Result<StreamPosition, BrokerFailure>) -> Void)
    /// The kept events after `since` (all kept ones when nil), at most `limit`.
    func history(_ channel: String, since: StreamPosition?, limit: Int, done: @escaping (Result<HistoryPage, BrokerFailure>) -> Void)
    /// Drops what is past its limits; the server calls it every few seconds.
    func sweep(now: Timestamp)
    /// What this node holds in memory for history, for `/metrics`.
    var usage: BrokerUsage { get }
    /// The server stops: write what must outlive it (a durable history), release connections.
    func close()
}

/// What a broker holds in this process.
public struct BrokerUsage: Equatable, Sendable {
    public var streams: Int
    public var historyEvents: Int
    public var historyBytes: Int

    public init(streams: Int, historyEvents: Int, historyBytes: Int) {
        self.streams = streams
        self.historyEvents = historyEvents
        self.historyBytes = historyBytes
    }
}

/// The broker of a single node: streams and their history in memory, delivery as a plain call.
/// Every callback runs before the method that caused it returns. Each channel's stream gets a
/// fresh epoch when it is first used in this process, so a restart (which loses the history)
/// never lets an old offset pass for a new one.
public final class MemoryBroker: Broker {
    public var onEvent: ((PublishedEvent) -> Void)?
    public let policy: HistoryPolicy
    /// The most events one recovery replays (`--max-recovery`).
    public let maxRecovery: Int
    /// Streams kept with no history and no subscriber here, past which such streams are forgotten
    /// at the next sweep (their epoch goes with them: a client that comes back refetches).
    public let maxIdleStreams: Int
    private let makeEpoch: () -> String
    private let journal: any HistoryJournal
    private var streams: [String: ChannelStream] = [:]
    private var subscribed: Set<String> = []
    /// Streams that hold history, for the sweep, with the oldest offset the journal still has.
    private var withHistory: [String: UInt64] = [:]

    /// With a `journal`, starts from the streams it kept (see `HistoryJournal`).
    public init(
        policy: HistoryPolicy = HistoryPolicy(), maxRecovery: Int = 1000, maxIdleStreams: Int = 100_000,
        journal: any HistoryJournal = NoHistoryJournal(), makeEpoch: @escaping () -> String = MemoryBroker.randomEpoch
    ) throws {
        self.policy = policy
        self.maxRecovery = maxRecovery
        self.maxIdleStreams = maxIdleStreams
        self.makeEpoch = makeEpoch
        self.journal = journal
        streams = try journal.load()
        for (channel, stream) in streams {
            usage.historyEvents += stream.count
            usage.historyBytes += stream.bytes
            if stream.count > 0 { withHistory[channel] = stream.firstKept }
        }
        usage.streams = streams.count
    }

    public func close() {
        journal.close()
    }

    /// Eight random letters and digits.
    public static func randomEpoch() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<8).map { _ in alphabet.randomElement()! })
    }

    public func subscribe(_ channel: String, since: StreamPosition?, done: @escaping (Result<BrokerSubscription, BrokerFailure>) -> Void) {
        subscribed.insert(channel)
        let stream = self.stream(channel)
        done(.success(BrokerSubscription(position: stream.position, recovery: since.map { stream.recover(since: $0, maxEvents: maxRecovery) })))
    }

    public func unsubscribe(_ channel: String) {
        subscribed.remove(channel)
    }

    public func publish(_ event: LiveEvent, at now: Timestamp, done: @escaping (Result<StreamPosition, BrokerFailure>) -> Void) {
        let limits = policy.limits(for: event.channel)
        // In place: the stream is not copied per publish.
        let published = changing(event.channel) { $0.append(event, at: now, limits: limits) }
        if let frame = published.frame {
            if withHistory[event.channel] == nil { withHistory[event.channel] = published.position.offset }
            journal.appended(
                event.channel, epoch: published.position.epoch,
                HistoryEntry(offset: published.position.offset, at: now, type: event.type, ids: event.ids, frame: frame))
        }
        done(.success(published.position))
        if subscribed.contains(event.channel) { onEvent?(published) }
    }

    public func history(_ channel: String, since: StreamPosition?, limit: Int, done: @escaping (Result<HistoryPage, BrokerFailure>) -> Void) {
        done(.success(Self.page(of: stream(channel), since: since, limit: limit)))
    }

    /// A page of a stream's kept events after `since`, as `history` answers it (every broker).
    public static func page(of stream: ChannelStream, since: StreamPosition?, limit: Int) -> HistoryPage {
        // A position of another epoch says nothing about this stream: everything kept is the answer.
        let after = since.flatMap { $0.epoch == stream.epoch ? $0.offset : nil }
        let events = Array(stream.events(after: after, limit: limit))
        var complete = false
        if let since, case .recovered(let all) = stream.recover(since: since, maxEvents: .max) {
            complete = all.count == events.count
        }
        return HistoryPage(position: stream.position, events: events, complete: complete)
    }

    /// The channel's stream, started (with a fresh epoch) on first use.
    private func stream(_ channel: String) -> ChannelStream {
        if let stream = streams[channel] { return stream }
        return changing(channel) { $0 }
    }

    // MARK: Bounds

    public private(set) var usage = BrokerUsage(streams: 0, historyEvents: 0, historyBytes: 0)

    /// Changes a channel's stream in place (starting it on first use), keeping `usage` true.
    private func changing<T>(_ channel: String, _ change: (inout ChannelStream) -> T) -> T {
        // One hash of the channel per call: every later access goes through the index.
        let index: Dictionary<String, ChannelStream>.Index
        if let found = streams.index(forKey: channel) {
            index = found
        } else {
            let stream = ChannelStream(epoch: makeEpoch())
            streams[channel] = stream
            journal.started(channel, epoch: stream.epoch)
            usage.streams = streams.count
            index = streams.index(forKey: channel)!
        }
        let before = (streams.values[index].count, streams.values[index].bytes)
        let result = change(&streams.values[index])
        usage.historyEvents += streams.values[index].count - before.0
        usage.historyBytes += streams.values[index].bytes - before.1
        return result
    }

    /// Drops history past its age in every channel, and forgets idle streams past `maxIdleStreams`.
    public func sweep(now: Timestamp) {
        for (channel, journaled) in withHistory {
            let limits = policy.limits(for: channel)
            let (count, firstKept) = changing(channel) { stream in
                stream.trim(now: now, limits: limits)
                return (stream.count, stream.firstKept)
            }
            if firstKept > journaled { journal.trimmed(channel, before: firstKept) }
            withHistory[channel] = count == 0 ? nil : firstKept
        }
        if streams.count > maxIdleStreams {
            for (channel, stream) in streams where stream.count == 0 && !subscribed.contains(channel) {
                streams[channel] = nil
                journal.forgot(channel)
                if streams.count <= maxIdleStreams / 2 { break }
            }
            usage.streams = streams.count
        }
    }
}
