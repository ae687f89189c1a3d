/// Merges the events of subscriptions that asked for at most one delivery per window
/// (`subscribe`'s `coalesce`): Refine's auto mode refetches the whole resource on every event, so a
/// burst of 1,000 becomes one refetch per window instead of 1,000.
///
/// A subscription's first event goes out at once and opens a window; what arrives during it is
/// kept, and when the window ends it goes out as one event per type, the ids merged, and a new
/// window opens; a window that ends with nothing kept closes, and the next event goes out at once
/// again. Pure: the shell offers events with the time, asks what is due at each deadline, and sends
/// what it is told. `Key` names one subscription.
public struct Coalescer<Key: Hashable> {
    /// One event to send for a subscription: the original when it stands alone, else a merge.
    public struct Delivery: Equatable {
        public var channel: String
        /// The offset to send: the last of the events it stands for.
        public var offset: UInt64
        public var event: LiveEvent
        /// How many published events it stands for.
        public var merged: Int
    }

    /// One subscription's open window: the events it kept, in order, merged only when it ends
    /// (an offer is an append), and a signature of their offsets: windows that kept the same events
    /// (the subscribers of one burst, mostly) share one merge.
    private struct Window {
        var windowMilliseconds: Int64
        var pending: [(event: LiveEvent, offset: UInt64)] = []
        var signature: UInt64 = 0
    }

    /// Events merged by type, in the order the types first came.
    private struct Merge {
        var types: [String] = []
        var kept: [String: Kept] = [:]
    }

    private struct Kept {
        var first: LiveEvent
        var count = 1
        /// The union of the ids, or nil once one of the events named none (it may be about anything).
        var ids: [String]?
        var seen: Set<String>
        var lastOffset: UInt64
        var lastDate: JSONValue?
    }

    private var windows: [Key: Window] = [:]
    private var deadlines = ExpiryQueue<Key>()

    public init() {}

    /// Windows open now.
    public var count: Int { windows.count }

    /// An event for a coalescing subscription: what to send at once (the event itself, when no
    /// window is open), or nil when it is kept for the window's end.
    public mutating func offer(
        _ event: LiveEvent, offset: UInt64, to key: Key, windowMilliseconds: @autoclosure () -> Int64, now: Int64
    ) -> Delivery? {
        // One lookup, and in place: a copy of the window would copy everything it keeps.
        if let index = windows.index(forKey: key) {
            windows.values[index].pending.append((event, offset))
            windows.values[index].signature = (windows.values[index].signature ^ offset) &* 0x9E37_79B9_7F4A_7C15 &+ 1
            return nil
        }
        let milliseconds = windowMilliseconds()
        windows[key] = Window(windowMilliseconds: milliseconds)
        deadlines.schedule(key, at: now + milliseconds)
        return Delivery(channel: event.channel, offset: offset, event: event, merged: 1)
    }

    /// The earliest time a window ends.
    public mutating func nextDeadline() -> Int64? { deadlines.nextDeadline() }

    /// The windows that have ended by `now`: what each subscription is sent (nothing for a window
    /// that kept nothing, which closes; the others open the next window).
    public mutating func due(now: Int64) -> [(Key, [Delivery])] {
        var out: [(Key, [Delivery])] = []
        var merged: [UInt64: (first: UInt64, count: Int, deliveries: [Delivery])] = [:]
        for key in deadlines.popExpired(now: now) {
            guard let window = windows[key] else { continue }
            guard let first = window.pending.first else {
                windows[key] = nil
                continue
            }
            let deliveries: [Delivery]
            if let shared = merged[window.signature], shared.first == first.offset, shared.count == window.pending.count {
                deliveries = shared.deliveries
            } else {
                deliveries = Self.merge(window.pending)
                merged[window.signature] = (first.offset, window.pending.count, deliveries)
            }
            out.append((key, deliveries))
            windows[key] = Window(windowMilliseconds: window.windowMilliseconds)
            deadlines.schedule(key, at: now + window.windowMilliseconds)
        }
        return out
    }

    /// Merges events at once (a replay to a coalescing subscription): one per type, as a window's end would.
    public static func merge(_ events: [(event: LiveEvent, offset: UInt64)]) -> [Delivery] {
        var merge = Merge()
        for (event, offset) in events { keep(event, offset: offset, in: &merge) }
        return deliveries(merge)
    }

    /// Forgets a subscription that ended.
    public mutating func remove(_ key: Key) {
        windows[key] = nil
        deadlines.cancel(key)
    }

    private static func keep(_ event: LiveEvent, offset: UInt64, in window: inout Merge) {
        guard window.kept[event.type] != nil else {
            window.types.append(event.type)
            window.kept[event.type] = Kept(
                first: event, ids: event.ids, seen: Set(event.ids ?? []), lastOffset: offset, lastDate: event.body["date"])
            return
        }
        // In place, for the same reason: the ids and the set of them grow with every event.
        Self.add(event, offset: offset, to: &window.kept[event.type]!)
    }

    private static func add(_ event: LiveEvent, offset: UInt64, to kept: inout Kept) {
        kept.count += 1
        if let eventIDs = event.ids, kept.ids != nil {
            for id in eventIDs where kept.seen.insert(id).inserted { kept.ids!.append(id) }
        } else {
            kept.ids = nil
            kept.seen = []
        }
        kept.lastOffset = offset
        kept.lastDate = event.body["date"]
    }

    private static func deliveries(_ window: Merge) -> [Delivery] {
        let lastOffset = window.kept.values.map(\.lastOffset).max() ?? 0
        return window.types.map { type in
            let kept = window.kept[type]!
            guard kept.count > 1 else {
                return Delivery(channel: kept.first.channel, offset: lastOffset, event: kept.first, merged: 1)
            }
            return Delivery(channel: kept.first.channel, offset: lastOffset, event: merged(kept), merged: kept.count)
        }
    }

    /// One event of the type standing for `kept.count`: the ids merged (none when one named none),
    /// the last date, and `meta.concord.coalesced` saying how many.
    private static func merged(_ kept: Kept) -> LiveEvent {
        var event = kept.first
        var payload: [String: JSONValue] = [:]
        if let ids = kept.ids { payload["ids"] = .array(ids.map(JSONValue.string)) }
        event.ids = kept.ids
        event.body["payload"] = .object(payload)
        if let date = kept.lastDate { event.body["date"] = date }
        var meta = event.body["meta"]?.objectValue ?? [:]
        meta["concord"] = .object(["coalesced": .int(Int64(kept.count))])
        event.body["meta"] = .object(meta)
        return event
    }
}
