import ConcordCodec
import Foundation
#if canImport(Glibc)
    import Glibc
#endif

/// A blocking WebSocket client over a real TCP socket, using Concord's codec in the client role.
final class TestWebSocket {
    let fd: Int32
    private var decoder = WebSocketDecoder(role: .client, maxMessageBytes: 16 << 20)
    private var inbox: [WebSocketEvent] = []
    private(set) var closed = false
    var answerPings = true
    /// Pings read from the server so far.
    private(set) var pingsReceived = 0

    enum Failure: Error, CustomStringConvertible {
        case connect(Int32), handshake(String), timeout(String), closed
        var description: String {
            switch self {
            case .connect(let e): return "connect failed: errno \(e)"
            case .handshake(let s): return "handshake failed: \(s)"
            case .timeout(let s): return "timed out waiting for \(s)"
            case .closed: return "connection closed"
            }
        }
    }

    init(port: Int, path: String = "/v1/ws", receiveBuffer: Int32? = nil) throws {
        fd = try Self.connect(port: port, receiveBuffer: receiveBuffer)
        let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        try sendRaw(WebSocketHandshake.clientRequest(host: "127.0.0.1:\(port)", path: path, key: key))
        // Read the 101 response head; whatever follows it is WebSocket data.
        var head: [UInt8] = []
        while true {
            var byte: UInt8 = 0
            guard recv(fd, &byte, 1, 0) == 1 else { throw Failure.handshake("connection closed during handshake") }
            head.append(byte)
            if head.count >= 4 && head.suffix(4) == [13, 10, 13, 10] { break }
        }
        let text = String(decoding: head, as: UTF8.self)
        guard text.hasPrefix("HTTP/1.1 101") else { throw Failure.handshake(text) }
        guard text.contains(WebSocketHandshake.acceptKey(for: key)) else { throw Failure.handshake("wrong accept key") }
    }

    static func connect(port: Int, receiveBuffer: Int32? = nil) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if var size = receiveBuffer {
            // Set before connecting so the window is small from the start: a deliberately slow reader.
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Foundation.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { let e = errno; close(fd); throw Failure.connect(e) }
        return fd
    }

    deinit { Foundation.close(fd) }

    /// Ends the TCP connection without a WebSocket close frame, as a dropped network does.
    func abort() {
        shutdown(fd, Int32(SHUT_RDWR))
    }

    func sendRaw(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure.closed }
            sent += n
        }
    }

    func send(_ opcode: WebSocketOpcode, _ payload: [UInt8], fin: Bool = true) throws {
        try sendRaw(WebSocketFrameEncoder.encode(opcode: opcode, payload: payload, fin: fin, maskKey: UInt32.random(in: 1...UInt32.max)))
    }

    func send(json: String) throws {
        try send(.text, Array(json.utf8))
    }

    /// The next event from the server, waiting up to `timeout` seconds.
    func next(timeout: Double = 5) throws -> WebSocketEvent {
        let deadline = Date().addingTimeInterval(timeout)
        while inbox.isEmpty {
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { throw Failure.timeout("a frame") }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, Int32(remaining * 1000) + 1) > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 65536)
            let n = recv(fd, &buffer, buffer.count, 0)
            guard n > 0 else { closed = true; throw Failure.closed }
            var pings: [[UInt8]] = []
            let status = buffer.withUnsafeBytes { raw in
                decoder.decode(UnsafeRawBufferPointer(rebasing: raw[0..<n])) { event in
                    // Like a browser, answer pings while reading; a client that stops reading stops answering.
                    if case .ping(let payload) = event { pings.append(payload) } else { inbox.append(event) }
                }
            }
            pingsReceived += pings.count
            for payload in pings where answerPings { try send(.pong, payload) }
            if case .failed(let code, let reason) = status { throw Failure.handshake("server sent bad frames: \(code) \(reason)") }
        }
        return inbox.removeFirst()
    }

    /// The next JSON text message as a dictionary, skipping pings.
    func nextJSON(timeout: Double = 5) throws -> [String: Any] {
        while true {
            switch try next(timeout: timeout) {
            case .text(let bytes):
                return try JSONSerialization.jsonObject(with: Data(bytes)) as! [String: Any]
            case .close(let code, let reason):
                throw Failure.handshake("closed by server: \(code.map(String.init) ?? "-") \(reason)")
            default:
                continue
            }
        }
    }

    /// Waits for the frame whose `op` matches, failing on anything else except pings.
    func expect(op: String, timeout: Double = 5) throws -> [String: Any] {
        let frame = try nextJSON(timeout: timeout)
        guard frame["op"] as? String == op else { throw Failure.handshake("expected \(op), got \(frame)") }
        return frame
    }

    /// Asserts that no text message arrives within `seconds`.
    func expectSilence(_ seconds: Double = 0.3) throws -> [String: Any]? {
        do { return try nextJSON(timeout: seconds) } catch Failure.timeout { return nil }
    }

    /// Waits for a close frame and returns its code.
    func expectClose(timeout: Double = 5) throws -> UInt16? {
        while true {
            do {
                if case .close(let code, _) = try next(timeout: timeout) { return code }
            } catch Failure.closed {
                return nil
            }
        }
    }
}

/// Plain HTTP/1.1 requests over a real socket, for the backend API.
enum TestHTTP {
    struct Response {
        var status: Int
        var headers: String
        var body: [UInt8]
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]) ?? [:] }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    static func request(port: Int, _ method: String, _ path: String, headers: [String: String] = [:], body: String? = nil) throws -> Response {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        if let body { head += "Content-Length: \(body.utf8.count)\r\n" }
        head += "\r\n" + (body ?? "")
        return try raw(port: port, Array(head.utf8))
    }

    static func publish(port: Int, _ body: String, key: String = "test-key") throws -> Response {
        try request(
            port: port, "POST", "/v1/publish",
            headers: ["Authorization": "Bearer \(key)", "Content-Type": "application/json"], body: body)
    }

    /// Sends bytes and reads until the server closes the connection.
    static func raw(port: Int, _ bytes: [UInt8]) throws -> Response {
        let fd = try TestWebSocket.connect(port: port)
        defer { close(fd) }
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
        }
        guard let split = data.firstRange(of: [13, 10, 13, 10]) else { throw TestWebSocket.Failure.handshake("no HTTP response") }
        let head = String(decoding: data[..<split.lowerBound], as: UTF8.self)
        let status = Int(head.split(separator: " ")[1]) ?? 0
        return Response(status: status, headers: head, body: Array(data[split.upperBound...]))
    }
}
