import ConcordCore

/// The broker of several nodes sharing one Redis: every channel's stream (epoch, offsets,
/// history) lives in Redis, numbered by one script per publish; each node keeps a copy of the
/// streams its subscribers use, fed by Redis pub/sub, and answers subscriptions and recoveries
/// from it.
///
/// A node's copy of a stream starts when its first subscriber comes: subscribe on Redis, wait for
/// the confirmation, read the position and kept history, then apply what arrived meanwhile (newer
/// offsets only). Every message must be the copy's next offset in its epoch; one that is not
/// (messages lost with a pub/sub connection, Redis restarted without its data) makes the node
/// read what it missed from the history and deliver it in order, or, when the history no longer
/// has it, report the channel through `onStreamReset`, so that its subscribers come back and
/// recover or refetch: never a silent gap.
public final class RedisBroker: Broker {
    public var onEvent: ((PublishedEvent) -> Void)?
    /// A channel's stream moved on without some of its events reaching this node, and they cannot
    /// be replayed from the history (or the epoch changed): its subscribers must recover.
    public var onStreamReset: ((String) -> Void)?
    public let policy: HistoryPolicy
    public let maxRecovery: Int
    /// How long a stream's position (epoch and offset) lives in Redis after its last use.
    public let positionLifetimeMilliseconds: Int64
    private let node: RedisNode
    private let makeEpoch: () -> String
    /// The wall clock, for the history's age limit on what is read from Redis.
    private let now: () -> Timestamp
    private var copies: [String: StreamCopy] = [:]

    /// A node's copy of one channel's stream, and who waits for it.
    private final class StreamCopy {
        var stream: ChannelStream?
        var reading = false
        /// Messages that arrived while the stream was being read, in order.
        var arrived: [(epoch: String, entry: HistoryEntry, event: LiveEvent)] = []
        var waiters: [(since: StreamPosition?, done: (Result<BrokerSubscription, BrokerFailure>) -> Void)] = []
        /// Redis confirmed the subscription at least once: reads after that see every later message.
        var confirmed = false
    }

    public init(
        node: RedisNode, policy: HistoryPolicy = HistoryPolicy(), maxRecovery: Int = 1000,
        positionLifetimeMilliseconds: Int64 = 24 * 3_600_000, makeEpoch: @escaping () -> String = MemoryBroker.randomEpoch,
        now: @escaping () -> Timestamp
    ) {
        self.node = node
        self.now = now
        self.policy = policy
        self.maxRecovery = maxRecovery
        self.positionLifetimeMilliseconds = positionLifetimeMilliseconds
        self.makeEpoch = makeEpoch
        node.observeState { [unowned self] state in
            guard state != .ready else { return }
            // Reads in flight have failed; each copy is read again when Redis confirms its
            // subscription after the reconnect.
            for copy in copies.values where copy.reading { copy.reading = false }
        }
    }

    public func close() {
        for channel in copies.keys { node.unlisten(eventsChannel(channel)) }
        copies = [:]
    }

    private func eventsChannel(_ channel: String) -> String { node.key(channel, "events") }
    private func keys(_ channel: String) -> [String] { [node.key(channel, "meta"), node.key(channel, "history")] }

    // MARK: Subscribing

    public func subscribe(_ channel: String, since: StreamPosition?, done: @escaping (Result<BrokerSubscription, BrokerFailure>) -> Void) {
        guard node.isReady else { return done(.failure(unavailable)) }
        if let copy = copies[channel] {
            if let stream = copy.stream, !copy.reading {
                return done(.success(answer(stream, since: since)))
            }
            copy.waiters.append((since, done))
            return
        }
        let copy = StreamCopy()
        copy.waiters.append((since, done))
        copies[channel] = copy
        node.listen(eventsChannel(channel), subscribed: { [unowned self] in subscriptionConfirmed(channel) }) { [unowned self] payload in
            received(channel, payload)
        }
    }

    public func unsubscribe(_ channel: String) {
        guard let copy = copies.removeValue(forKey: channel) else { return }
        node.unlisten(eventsChannel(channel))
        for waiter in copy.waiters { waiter.done(.failure(BrokerFailure("the channel was unsubscribed before Redis answered"))) }
    }

    private var unavailable: BrokerFailure {
        if case .down(let why) = node.state { return BrokerFailure("Redis is unavailable: \(why)") }
        return BrokerFailure("Redis is unavailable: not connected yet")
    }

    private func answer(_ stream: ChannelStream, since: StreamPosition?) -> BrokerSubscription {
        BrokerSubscription(position: stream.position, recovery: since.map { stream.recover(since: $0, maxEvents: maxRecovery) })
    }

    /// Redis confirmed the subscription (first, or after a reconnect): read the stream from there.
    private func subscriptionConfirmed(_ channel: String) {
        guard let copy = copies[channel] else { return }
        copy.confirmed = true
        read(channel, copy)
    }

    /// Reads the stream's position and what this node's copy lacks, then brings the copy up to date.
    private func read(_ channel: String, _ copy: StreamCopy) {
        guard !copy.reading else { return }
        copy.reading = true
        let after = copy.stream.map { Int64($0.lastOffset) } ?? -1
        let arguments = [makeEpoch(), String(positionLifetimeMilliseconds), String(after), String(1_000_000)]
        node.run(Self.readScript, keys: keys(channel), arguments: arguments, gated: false) { [unowned self] result in
            guard copies[channel] === copy, copy.reading else { return }
            copy.reading = false
            switch result {
            case .success(.array(let parts)) where parts.count == 3:
                guard let epoch = parts[0].text, let offset = parts[1].integer, offset >= 0, case .array(let raw) = parts[2] else { fallthrough }
                let entries = raw.compactMap { reply -> (HistoryEntry, LiveEvent)? in
                    guard case .bulk(let bytes) = reply else { return nil }
                    return RedisStreamEntry.entry(bytes)
                }
                caughtUp(channel, copy, epoch: epoch, offset: UInt64(offset), entries: entries)
            default:
                let failure = replyFailure(result)
                let waiters = copy.waiters
                copy.waiters = []
                copy.arrived = []
                for waiter in waiters { waiter.done(.failure(failure)) }
            }
        }
    }

    private func caughtUp(_ channel: String, _ copy: StreamCopy, epoch: String, offset: UInt64, entries: [(HistoryEntry, LiveEvent)]) {
        let limits = policy.limits(for: channel)
        // Waiters are answered at the copy's position before anything newer is delivered, so a
        // subscriber's live events follow its `subscribed` answer.
        var missed: [(HistoryEntry, LiveEvent)] = []
        var reset = false
        if var stream = copy.stream, stream.epoch == epoch, stream.lastOffset <= offset {
            let wanted = offset - stream.lastOffset
            if UInt64(entries.count) == wanted, entries.first.map({ $0.0.offset == stream.lastOffset + 1 }) ?? true {
                missed = entries
            } else {
                reset = true
                stream = ChannelStream(epoch: epoch, lastOffset: offset, kept: entries.map(\.0))
                stream.trim(now: now(), limits: limits)
                copy.stream = stream
            }
        } else {
            reset = copy.stream != nil
            var stream = ChannelStream(epoch: epoch, lastOffset: offset, kept: entries.map(\.0))
            stream.trim(now: now(), limits: limits)
            copy.stream = stream
        }
        let waiters = copy.waiters
        copy.waiters = []
        for waiter in waiters { waiter.done(.success(answer(copy.stream!, since: waiter.since))) }
        if reset { onStreamReset?(channel) }
        for (entry, event) in missed { apply(channel, copy, epoch: epoch, entry: entry, event: event) }
        let arrived = copy.arrived
        copy.arrived = []
        // One of another epoch was published before the stream was read (it is what the read
        // replaced); one published after would come with the next reset, and be caught then.
        for message in arrived where copies[channel] === copy && message.epoch == epoch {
            apply(channel, copy, epoch: message.epoch, entry: message.entry, event: message.event)
        }
    }

    // MARK: Events

    private func received(_ channel: String, _ payload: ArraySlice<UInt8>) {
        guard let copy = copies[channel], let message = RedisStreamEntry.message(payload) else { return }
        if copy.reading || copy.stream == nil {
            copy.arrived.append(message)
        } else {
            apply(channel, copy, epoch: message.epoch, entry: message.entry, event: message.event)
        }
    }

    /// Delivers the copy's next event; an older one is a duplicate, a later one (or another epoch)
    /// means some went missing: read again.
    private func apply(_ channel: String, _ copy: StreamCopy, epoch: String, entry: HistoryEntry, event: LiveEvent) {
        guard var stream = copy.stream else { return }
        if copy.reading { return copy.arrived.append((epoch, entry, event)) }
        if epoch == stream.epoch, entry.offset <= stream.lastOffset { return }
        guard epoch == stream.epoch, stream.record(entry, limits: policy.limits(for: channel)) else {
            copy.arrived.append((epoch, entry, event))
            return read(channel, copy)
        }
        copy.stream = stream
        onEvent?(PublishedEvent(event: event, position: StreamPosition(offset: entry.offset, epoch: epoch), frame: entry.frame))
    }

    // MARK: Publishing and history

    public func publish(_ event: LiveEvent, at now: Timestamp, done: @escaping (Result<StreamPosition, BrokerFailure>) -> Void) {
        guard node.isReady else { return done(.failure(unavailable)) }
        let limits = policy.limits(for: event.channel)
        let (head, tail) = ServerFrame.eventParts(event)
        let arguments: [[UInt8]] = [
            Array(makeEpoch().utf8), head, tail, Array(String(now.milliseconds).utf8), Array(String(limits.maxEvents).utf8),
            Array(String(limits.maxAgeMilliseconds).utf8), Array(String(positionLifetimeMilliseconds).utf8),
            Array(eventsChannel(event.channel).utf8),
        ]
        node.run(Self.publishScript, keys: keys(event.channel), arguments: arguments) { [unowned self] result in
            guard case .success(.array(let parts)) = result, parts.count == 2, let epoch = parts[0].text, let offset = parts[1].integer,
                offset > 0
            else { return done(.failure(replyFailure(result))) }
            done(.success(StreamPosition(offset: UInt64(offset), epoch: epoch)))
        }
    }

    public func history(_ channel: String, since: StreamPosition?, limit: Int, done: @escaping (Result<HistoryPage, BrokerFailure>) -> Void) {
        guard node.isReady else { return done(.failure(unavailable)) }
        // The whole kept history (bounded by the policy), so that completeness is judged as one node would.
        let arguments = [makeEpoch(), String(positionLifetimeMilliseconds), "-1", String(1_000_000)]
        node.run(Self.readScript, keys: keys(channel), arguments: arguments, gated: false) { [unowned self] result in
            guard case .success(.array(let parts)) = result, parts.count == 3, let epoch = parts[0].text, let offset = parts[1].integer,
                offset >= 0, case .array(let raw) = parts[2]
            else { return done(.failure(replyFailure(result))) }
            let entries = raw.compactMap { reply -> HistoryEntry? in
                guard case .bulk(let bytes) = reply else { return nil }
                return RedisStreamEntry.entry(bytes)?.0
            }
            let stream = ChannelStream(epoch: epoch, lastOffset: UInt64(offset), kept: entries)
            done(.success(MemoryBroker.page(of: stream, since: since, limit: limit)))
        }
    }

    private func replyFailure(_ result: Result<RedisReply, RedisConnection.Failure>) -> BrokerFailure {
        switch result {
        case .failure(let failure): return BrokerFailure("Redis is unavailable: \(failure.reason)")
        case .success(.error(let message)): return BrokerFailure("Redis refused: \(message)")
        case .success: return BrokerFailure("Redis answered something unexpected")
        }
    }

    // MARK: Bounds

    public func sweep(now: Timestamp) {
        for (channel, copy) in copies {
            guard var stream = copy.stream else { continue }
            stream.trim(now: now, limits: policy.limits(for: channel))
            copy.stream = stream
        }
    }

    public var usage: BrokerUsage {
        var usage = BrokerUsage(streams: 0, historyEvents: 0, historyBytes: 0)
        for copy in copies.values {
            guard let stream = copy.stream else { continue }
            usage.streams += 1
            usage.historyEvents += stream.count
            usage.historyBytes += stream.bytes
        }
        return usage
    }
}
