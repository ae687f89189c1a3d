// libFuzzer target: what arrives from outside about streams. A Last-Event-ID header (any bytes a
// browser or a stranger sends) either reads as a position that writes back to the same text, or is
// refused; a --history rule either reads or is refused; and bytes read back from the history journal
// either make an entry whose frame they are, or none. Never a crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let text = String(decoding: bytes, as: UTF8.self)
    if let position = ServerFrame.ssePosition(parsing: text) {
        let written = ServerFrame.ssePosition(position)
        let id = String(decoding: written.dropFirst(4).dropLast(2), as: UTF8.self)
        guard ServerFrame.ssePosition(parsing: id) == position else { fatalError("an event id does not read back") }
    }
    if let rule = HistoryPolicy.rule(text) {
        guard rule.limits.maxEvents >= 0, rule.limits.maxAgeMilliseconds > 0 else { fatalError("a rule with impossible limits") }
    }
    if let entry = HistoryEntry(frame: bytes, at: Timestamp(milliseconds: 0)) {
        guard entry.frame == bytes, entry.offset > 0 else { fatalError("an entry that is not its frame") }
        _ = entry.event
        _ = ServerFrame.replayed(bytes, sub: .string("s"))
    }
    return 0
}
