// libFuzzer target: the hand-written reader of stored record states never crashes, and whatever
// it accepts encodes back to bytes that read back to the same state, and encode the same again (the
// Redis store compares stored bytes to decide a compare-and-set).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let state = try? RecordState(json: bytes) else { return 0 }
    guard let again = try? RecordState(json: state.jsonBytes), again == state else {
        fatalError("stored record state does not round-trip")
    }
    guard again.jsonBytes == state.jsonBytes else { fatalError("one state encodes two ways") }
    return 0
}
