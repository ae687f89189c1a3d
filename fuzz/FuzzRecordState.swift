// libFuzzer target: the hand-written reader of stored record states never crashes, and whatever
// it accepts encodes back to bytes that read back to the same state.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let state = try? RecordState(json: bytes) else { return 0 }
    guard let again = try? RecordState(json: state.jsonBytes), again == state else {
        fatalError("stored record state does not round-trip")
    }
    return 0
}
