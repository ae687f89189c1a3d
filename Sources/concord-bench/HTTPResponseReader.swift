/// Splits the bytes of a keep-alive connection into HTTP/1.1 responses. Only what a publish answer
/// uses: a status line, `Content-Length` and a body (no chunked encoding).
struct HTTPResponseReader {
    /// Bytes read but not yet part of a whole response.
    private var buffer: [UInt8] = []
    private static let headEnd: [UInt8] = [13, 10, 13, 10]
    private static let lengthName = Array("content-length:".utf8)

    /// Feeds read bytes, calling `emit` with the status and body of each complete response.
    /// Returns a description of the first thing that cannot be a response, or nil.
    mutating func feed(_ bytes: UnsafeRawBufferPointer, _ emit: (Int, ArraySlice<UInt8>) -> Void) -> String? {
        buffer.append(contentsOf: bytes)
        var start = 0
        defer { buffer.removeFirst(start) }
        while true {
            let found = buffer.withUnsafeBytes { EventScanner.find(Self.headEnd, in: $0, from: start) }
            guard let bodyStart = found else { return nil }
            guard let status = statusCode(from: start) else {
                return "not an HTTP/1.1 response: \(String(decoding: buffer[start...].prefix(80), as: UTF8.self))"
            }
            guard let length = contentLength(in: start..<bodyStart) else {
                return "response without Content-Length"
            }
            guard buffer.count - bodyStart >= length else { return nil }
            emit(status, buffer[bodyStart..<bodyStart + length])
            start = bodyStart + length
        }
    }

    /// The three digits after "HTTP/1.x ".
    private func statusCode(from start: Int) -> Int? {
        guard buffer.count >= start + 12, buffer[start..<start + 7].elementsEqual("HTTP/1.".utf8) else { return nil }
        var code = 0
        for byte in buffer[start + 9..<start + 12] {
            guard byte >= 48 && byte <= 57 else { return nil }
            code = code * 10 + Int(byte - 48)
        }
        return code
    }

    /// Finds the header case-insensitively: servers differ in how they spell it.
    private func contentLength(in head: Range<Int>) -> Int? {
        let name = Self.lengthName
        var index = head.lowerBound
        while index + name.count <= head.upperBound {
            var matches = true
            for offset in 0..<name.count where buffer[index + offset] | 0x20 != name[offset] | 0x20 {
                matches = false
                break
            }
            if matches {
                var value = 0, position = index + name.count, digits = 0
                while position < head.upperBound, buffer[position] == 32 { position += 1 }
                while position < head.upperBound, buffer[position] >= 48, buffer[position] <= 57 {
                    value = value * 10 + Int(buffer[position] - 48)
                    position += 1
                    digits += 1
                }
                return digits > 0 ? value : nil
            }
            index += 1
        }
        return nil
    }
}
