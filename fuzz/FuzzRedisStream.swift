// libFuzzer target: what another node's events look like when they come back from Redis (a history
// entry `OFFSET AT\nFRAME`, a pub/sub message `EPOCH OFFSET AT\nFRAME`) is read into an entry whose
// offset is its frame's, or refused. Never a crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let (entry, event) = RedisStreamEntry.entry(bytes) {
        guard entry.offset > 0, entry.type == event.type, bytes.hasSuffix(entry.frame) else { fatalError("an entry that is not its bytes") }
    }
    if let message = RedisStreamEntry.message(bytes[...]) {
        guard !message.epoch.isEmpty, message.entry.offset > 0 else { fatalError("a message without its position") }
    }
    return 0
}

extension Array where Element == UInt8 {
    fileprivate func hasSuffix(_ suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}
