/// Where a broker keeps its channel streams beyond the process, so that a restart keeps every
/// stream's epoch, last offset and history, and reconnecting clients recover across it.
///
/// The broker calls it on the loop thread and it must never block there: an implementation queues
/// the writes for a thread of its own. `load` runs once, at start, before anything is served.
///
/// A journal answers only streams it can vouch for: after a crash, events may have been numbered
/// and delivered without reaching the journal, and a restarted stream that reused their offsets
/// under the old epoch would let a client believe it missed nothing. So `load` answers the streams
/// only when the last run closed the journal (`close`); otherwise it answers none, and every
/// stream starts again under a new epoch (clients refetch: never a silent gap).
public protocol HistoryJournal: AnyObject {
    /// The streams the last run left, each with its kept events, when it stopped cleanly; else none.
    func load() throws -> [String: ChannelStream]
    /// A stream began (its epoch, offset 0).
    func started(_ channel: String, epoch: String)
    /// An event was appended to a stream (its offset is the stream's last).
    func appended(_ channel: String, epoch: String, _ entry: HistoryEntry)
    /// Events before `offset` are no longer kept.
    func trimmed(_ channel: String, before offset: UInt64)
    /// A stream is forgotten: its epoch and history go.
    func forgot(_ channel: String)
    /// Writes what is queued and marks the journal as cleanly closed; returns once done.
    func close()
}

/// A journal that keeps nothing: every run starts new streams. The broker of `--memory`.
public final class NoHistoryJournal: HistoryJournal {
    public init() {}
    public func load() -> [String: ChannelStream] { [:] }
    public func started(_ channel: String, epoch: String) {}
    public func appended(_ channel: String, epoch: String, _ entry: HistoryEntry) {}
    public func trimmed(_ channel: String, before offset: UInt64) {}
    public func forgot(_ channel: String) {}
    public func close() {}
}
