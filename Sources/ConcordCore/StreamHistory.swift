/// How much of a channel's stream is kept for recovery: at most `maxEvents` events, none older
/// than `maxAgeMilliseconds`. Zero events keeps none (a client can then recover only when it
/// missed nothing).
public struct HistoryLimits: Equatable, Sendable {
    public var maxEvents: Int
    public var maxAgeMilliseconds: Int64

    public init(maxEvents: Int, maxAgeMilliseconds: Int64) {
        self.maxEvents = maxEvents
        self.maxAgeMilliseconds = maxAgeMilliseconds
    }

    /// 300 events and 5 minutes: enough for a network blip, a laptop waking, a rolling restart.
    public static let standard = HistoryLimits(maxEvents: 300, maxAgeMilliseconds: 5 * 60_000)
}

/// The history limits of every channel: the first rule whose pattern matches, else the default.
public struct HistoryPolicy: Sendable {
    public struct Rule: Sendable, Equatable {
        public var pattern: ChannelPattern
        public var limits: HistoryLimits

        public init(_ pattern: ChannelPattern, _ limits: HistoryLimits) {
            self.pattern = pattern
            self.limits = limits
        }
    }

    public var rules: [Rule]
    public var fallback: HistoryLimits

    /// The form `--history` takes: `PATTERN=EVENTS`, or `PATTERN=EVENTS/AGE` with the age in
    /// milliseconds or with a unit (`30s`, `5m`, `2h`). `chat/*=1000/10m`, `audit/*=0`.
    public static let ruleFormat = "PATTERN=EVENTS[/AGE], for example resources/*=300/5m"

    /// Reads one rule in `ruleFormat`; nil when it is not one. The age defaults to the fallback's.
    public static func rule(_ text: String, fallback: HistoryLimits = .standard) -> Rule? {
        guard let equals = text.lastIndex(of: "=") else { return nil }
        let pattern = String(text[..<equals])
        guard ChannelPattern.isValid(pattern) else { return nil }
        let limits = text[text.index(after: equals)...].split(separator: "/", omittingEmptySubsequences: false)
        guard limits.count == 1 || limits.count == 2, let events = Int(limits[0]), events >= 0, events <= 1_000_000 else { return nil }
        var age = fallback.maxAgeMilliseconds
        if limits.count == 2 {
            guard let parsed = milliseconds(limits[1]), parsed > 0 else { return nil }
            age = parsed
        }
        return Rule(ChannelPattern(pattern), HistoryLimits(maxEvents: events, maxAgeMilliseconds: age))
    }

    private static func milliseconds(_ text: Substring) -> Int64? {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let value = Int64(text.dropLast(suffix.count)), value <= Int64.max / scale else { return nil }
            return value * scale
        }
        return Int64(text)
    }

    public init(rules: [Rule] = [], fallback: HistoryLimits = .standard) {
        self.rules = rules
        self.fallback = fallback
    }

    public func limits(for channel: String) -> HistoryLimits {
        rules.first { $0.pattern.matches(channel) }?.limits ?? fallback
    }
}

/// Why a subscription could not recover what it missed; the client refetches instead.
public enum RecoveryFailure: String, Error, Sendable, Equatable {
    /// The stream the client knew is gone (a restart without durable history, or history dropped).
    case epochChanged = "epoch_changed"
    /// The oldest event still kept is past the client's position: some of what it missed is gone.
    case historyTooShort = "history_too_short"
    /// More events were missed than one recovery replays (`--max-recovery`).
    case gapTooLong = "gap_too_long"
    /// The client claims a position the stream never reached (history lost in a crash, say).
    case positionAhead = "position_ahead"
}

/// What a subscription that names the position it last saw gets back.
public enum Recovery: Sendable {
    /// Exactly the events after the position, in offset order (none when nothing was missed).
    case recovered([HistoryEntry])
    /// Nothing is replayed: the client must refetch.
    case failed(RecoveryFailure)
}

/// One event as history keeps it: what filters look at, and its frame, encoded once.
public struct HistoryEntry: Sendable {
    public var offset: UInt64
    /// When it was published, on the wall clock (history survives a restart).
    public var at: Timestamp
    public var type: String
    public var ids: [String]?
    /// The `event` push as every subscriber gets it (`ServerFrame.event`).
    public var frame: [UInt8]

    public init(offset: UInt64, at: Timestamp, type: String, ids: [String]?, frame: [UInt8]) {
        self.offset = offset
        self.at = at
        self.type = type
        self.ids = ids
        self.frame = frame
    }

    /// An entry read back from a journal: the filter fields come from the frame itself. Nil when
    /// the bytes are not an event push.
    public init?(frame: [UInt8], at: Timestamp) {
        guard let (entry, _) = Self.decode(frame: frame, at: at) else { return nil }
        self = entry
    }

    /// An entry and its event from an event push's bytes (a journal's, another node's), parsed
    /// once. Nil when the bytes are not an event push.
    public static func decode(frame: [UInt8], at: Timestamp) -> (HistoryEntry, LiveEvent)? {
        // As `ServerFrame.event` writes it, which `ServerFrame.replayed` relies on.
        guard frame.starts(with: ServerFrame.eventPrefix),
            case .object(let push)? = JSONParsing.object(from: frame).map(JSONValue.object),
            case .int(let offset)? = push["offset"], offset > 0,
            case .object(let body)? = push["event"],
            let event = try? LiveEvent(json: body, now: at)
        else { return nil }
        return (HistoryEntry(offset: UInt64(offset), at: at, type: event.type, ids: event.ids, frame: frame), event)
    }

    /// The event as published, read back from the frame (for merging a replay).
    public var event: LiveEvent? {
        guard case .object(let body)? = JSONParsing.object(from: frame)?["event"] else { return nil }
        return try? LiveEvent(json: body, now: at)
    }

    public init(_ published: PublishedEvent, at: Timestamp) {
        self.init(
            offset: published.position.offset, at: at, type: published.event.type, ids: published.event.ids,
            frame: published.frame ?? ServerFrame.event(published.event, offset: published.position.offset))
    }

    /// What keeping it costs, roughly: the entry in its array, its frame's buffer, and its ids (each
    /// buffer with its header and allocation; strings of up to 15 bytes live inline).
    public var bytes: Int {
        func text(_ string: String) -> Int { string.utf8.count > 15 ? string.utf8.count + 48 : 0 }
        let idBytes = ids.map { list in 48 + list.reduce(0) { $0 + 16 + text($1) } } ?? 0
        return MemoryLayout<HistoryEntry>.stride + 48 + frame.count + text(type) + idBytes
    }
}

/// One channel's stream: the epoch that names it, its last offset, and the events still kept,
/// oldest first. Pure: time comes in as an argument.
public struct ChannelStream: Sendable {
    public let epoch: String
    public private(set) var lastOffset: UInt64
    /// Kept events are `entries[head...]`; the prefix is dropped in batches, not one by one.
    private var entries: [HistoryEntry] = []
    private var head = 0
    /// What the kept events cost, by `HistoryEntry.bytes`.
    public private(set) var bytes = 0

    public init(epoch: String, lastOffset: UInt64 = 0) {
        self.epoch = epoch
        self.lastOffset = lastOffset
    }

    public var position: StreamPosition { StreamPosition(offset: lastOffset, epoch: epoch) }
    public var count: Int { entries.count - head }
    public var kept: ArraySlice<HistoryEntry> { entries[head...] }
    /// When the oldest kept event was published.
    public var oldest: Timestamp? { head < entries.count ? entries[head].at : nil }

    /// Numbers the event, keeps it within `limits` (encoding its frame once), and returns it with
    /// its position and frame.
    public mutating func append(_ event: LiveEvent, at now: Timestamp, limits: HistoryLimits) -> PublishedEvent {
        lastOffset += 1
        var published = PublishedEvent(event: event, position: position)
        if limits.maxEvents > 0 {
            published.frame = ServerFrame.event(event, offset: lastOffset)
            keep(HistoryEntry(published, at: now))
        }
        trim(now: now, limits: limits)
        return published
    }

    /// Takes an event numbered elsewhere (another node, through Redis): the next offset, kept
    /// within `limits` like `append`. Answers false, changing nothing, when `entry` is not the next
    /// offset.
    public mutating func record(_ entry: HistoryEntry, limits: HistoryLimits) -> Bool {
        guard entry.offset == lastOffset + 1 else { return false }
        lastOffset = entry.offset
        if limits.maxEvents > 0 { keep(entry) }
        trim(now: entry.at, limits: limits)
        return true
    }

    /// A stream read back from a journal: its epoch, last offset, and the events it kept. Only the
    /// run of consecutive offsets that ends at `lastOffset` is kept (what a journal holds is).
    public init(epoch: String, lastOffset: UInt64, kept: [HistoryEntry]) {
        self.init(epoch: epoch, lastOffset: lastOffset)
        var expected = lastOffset
        var start = kept.count
        while start > 0, kept[start - 1].offset == expected, expected > 0 {
            start -= 1
            expected -= 1
        }
        for entry in kept[start...] { keep(entry) }
    }

    /// The offset of the oldest kept event, or the next one when none is kept.
    public var firstKept: UInt64 { head < entries.count ? entries[head].offset : lastOffset + 1 }

    private mutating func keep(_ entry: HistoryEntry) {
        entries.append(entry)
        bytes += entry.bytes
    }

    /// Drops events past the limits: the oldest beyond `maxEvents`, and those older than `maxAge`.
    public mutating func trim(now: Timestamp, limits: HistoryLimits) {
        let oldestKept = now.milliseconds - limits.maxAgeMilliseconds
        while head < entries.count, count > limits.maxEvents || entries[head].at.milliseconds < oldestKept {
            bytes -= entries[head].bytes
            head += 1
        }
        if head > 0, head >= entries.count / 2 {
            entries.removeFirst(head)
            head = 0
        }
    }

    /// The events after `since`, all or nothing, at most `maxEvents` of them.
    public func recover(since: StreamPosition, maxEvents: Int) -> Recovery {
        guard since.epoch == epoch else { return .failed(.epochChanged) }
        guard since.offset <= lastOffset else { return .failed(.positionAhead) }
        let missed = lastOffset - since.offset
        if missed == 0 { return .recovered([]) }
        guard missed <= UInt64(maxEvents) else { return .failed(.gapTooLong) }
        // Kept offsets are consecutive and end at `lastOffset`.
        guard UInt64(count) >= missed else { return .failed(.historyTooShort) }
        return .recovered(Array(entries[(entries.count - Int(missed))...]))
    }

    /// Up to `limit` kept events after `offset` (all kept ones when nil), oldest first.
    public func events(after offset: UInt64?, limit: Int) -> ArraySlice<HistoryEntry> {
        let after = kept.drop { offset != nil && $0.offset <= offset! }
        return after.prefix(limit)
    }
}
