// libFuzzer target: any text given as --redis (or CONCORD_REDIS_URL) either reads as an address
// within its ranges, whose description reads back to the same address when it holds no password, or
// is refused with a reason. Never a crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    switch RedisAddress.parse(text) {
    case .failure(let error):
        guard !error.description.isEmpty else { fatalError("a refusal without a reason") }
    case .success(let address):
        guard !address.host.isEmpty, (1...65_535).contains(address.port), (0...15).contains(address.database), !address.prefix.isEmpty
        else { fatalError("an address out of its ranges: \(address)") }
        if address.password == nil, address.user == nil, case .success(let again) = RedisAddress.parse(address.description), again != address {
            fatalError("\(address) does not read back")
        }
    }
    return 0
}
