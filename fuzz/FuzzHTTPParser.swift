// libFuzzer target for HTTPRequestParser, built by fuzz/run.sh together with the codec's sources.
//
// Besides "never crash", it checks that the requests parsed from a stream, and the error or
// "need more" it ends with, do not depend on how reads split the stream, and that every request
// respects the limits.

private let maxHeaderBytes = 512
private let maxBodyBytes = 256

/// The first input byte chooses the split point; the rest is the stream.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let stream = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let cut = stream.isEmpty ? 0 : Int(data[0]) * stream.count / 255
    let whole = run(stream, cuts: [])
    let split = run(stream, cuts: [cut])
    let bytewise = stream.count <= 300 ? run(stream, cuts: Array(0..<stream.count)) : whole
    guard whole == split, whole == bytewise else {
        fatalError("parsing depends on the split:\n\(whole)\nvs\n\(split)\nvs\n\(bytewise)")
    }
    return 0
}

/// Feeds the pieces like a connection would: after each request the rest of the piece is fed
/// again; parsing stops at an upgrade (the rest is another protocol) or an error.
private func run(_ stream: [UInt8], cuts: [Int]) -> [String] {
    let parser = HTTPRequestParser(maxHeaderBytes: maxHeaderBytes, maxBodyBytes: maxBodyBytes)
    var log: [String] = []
    var start = 0
    for end in cuts + [stream.count] where end >= start {
        var piece = Array(stream[start..<end])
        start = end
        while true {
            let outcome = piece.withUnsafeBytes { parser.feed($0) }
            switch outcome {
            case .needMore:
                break
            case .error(let error):
                log.append("error \(error)")
                return log
            case .request(let request, let consumed):
                precondition(consumed > 0 && consumed <= piece.count, "consumed out of range")
                precondition(request.body.count <= maxBodyBytes, "body over the limit")
                log.append(describe(request))
                if request.isUpgrade { return log }
                piece.removeFirst(consumed)
                if !piece.isEmpty { continue }
            }
            break
        }
    }
    log.append("need more")
    return log
}

private func describe(_ request: HTTPRequest) -> String {
    "\(request.method) \(request.target) \(request.path) \(request.query.sorted { $0.key < $1.key }) "
        + "\(request.headers) \(request.body) \(request.keepAlive) \(request.isUpgrade) \(request.version)"
}
