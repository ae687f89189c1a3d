import ConcordCore

/// An event as the Redis broker keeps and sends it: `OFFSET AT\nFRAME` in the history, with the
/// epoch in front (`EPOCH OFFSET AT\nFRAME`) on pub/sub. The frame is the `event` push, built once
/// by the publisher, so every node sends the same bytes.
enum RedisStreamEntry {
    /// An entry of a history list.
    static func entry(_ bytes: some Collection<UInt8>) -> (HistoryEntry, LiveEvent)? {
        guard let (fields, frame) = split(bytes), fields.count == 2, let offset = UInt64(fields[0]), let at = Int64(fields[1]),
            let (entry, event) = HistoryEntry.decode(frame: frame, at: Timestamp(milliseconds: at)), entry.offset == offset
        else { return nil }
        return (entry, event)
    }

    /// A pub/sub message (its header already taken off): the epoch, the entry and its event.
    static func message(_ bytes: some Collection<UInt8>) -> (epoch: String, entry: HistoryEntry, event: LiveEvent)? {
        guard let (fields, frame) = split(bytes), fields.count == 3, let offset = UInt64(fields[1]), let at = Int64(fields[2]),
            let (entry, event) = HistoryEntry.decode(frame: frame, at: Timestamp(milliseconds: at)), entry.offset == offset
        else { return nil }
        return (fields[0], entry, event)
    }

    /// The first line's space-separated fields, and the rest.
    private static func split(_ bytes: some Collection<UInt8>) -> ([String], [UInt8])? {
        guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        let fields = bytes[..<newline].split(separator: UInt8(ascii: " ")).map { String(decoding: $0, as: UTF8.self) }
        return (fields, Array(bytes[bytes.index(after: newline)...]))
    }
}
