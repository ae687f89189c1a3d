import ConcordCore
import ConcordCodec
import Testing

@Suite struct WebSocketHandshakeTests {
    private let goodHeaders: [(name: String, value: String)] = [
        (name: "Host", value: "server.example.com"),
        (name: "Upgrade", value: "websocket"),
        (name: "Connection", value: "Upgrade"),
        (name: "Sec-WebSocket-Key", value: "dGhlIHNhbXBsZSBub25jZQ=="),
        (name: "Sec-WebSocket-Version", value: "13"),
    ]

    private func request(method: String = "GET", version: (Int, Int) = (1, 1), replacing name: String? = nil, with value: String? = nil) -> HTTPRequest {
        var headers = goodHeaders.filter { $0.name != name }
        if let name, let value { headers.append((name: name, value: value)) }
        return HTTPRequest(method: method, target: "/v1/ws", headers: headers, version: (version.0, version.1))
    }

    private func error(_ request: HTTPRequest) -> HTTPHandshakeError? {
        if case .failure(let error) = WebSocketHandshake.validate(request) { return error }
        return nil
    }

    @Test func rfcAcceptKey() {
        #expect(WebSocketHandshake.acceptKey(for: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test func validRequest() {
        #expect(WebSocketHandshake.validate(request()) == .success("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="))
        // Token lists and case do not matter.
        #expect(error(request(replacing: "Connection", with: "keep-alive, UPGRADE")) == nil)
        #expect(error(request(replacing: "Upgrade", with: "WebSocket")) == nil)
        #expect(error(request(version: (2, 0))) == nil)
    }

    @Test func validationErrors() {
        #expect(error(request(method: "POST")) == .methodNotGet("POST"))
        #expect(error(request(version: (1, 0))) == .httpVersionTooOld(major: 1, minor: 0))
        #expect(error(request(replacing: "Host")) == .missingHost)
        #expect(error(request(replacing: "Upgrade")) == .missingUpgradeWebSocket)
        #expect(error(request(replacing: "Upgrade", with: "h2c")) == .missingUpgradeWebSocket)
        #expect(error(request(replacing: "Connection", with: "keep-alive")) == .missingConnectionUpgrade)
        #expect(error(request(replacing: "Sec-WebSocket-Version", with: "8")) == .unsupportedVersion("8"))
        #expect(error(request(replacing: "Sec-WebSocket-Version")) == .unsupportedVersion(nil))
        #expect(error(request(replacing: "Sec-WebSocket-Key")) == .invalidKey)
        #expect(error(request(replacing: "Sec-WebSocket-Key", with: "c2hvcnQ=")) == .invalidKey)
        #expect(error(request(replacing: "Sec-WebSocket-Key", with: "dGhlIHNhbXBsZSBub25jZQ")) == .invalidKey)
        #expect(error(request(replacing: "Sec-WebSocket-Key", with: "dGhlIHNhbXBsZSBub25j*Q==")) == .invalidKey)
        #expect(error(request(replacing: "Sec-WebSocket-Key", with: "AAAAAAAAAAAAAAAAAAAAAAAAAAA=")) == .invalidKey)
    }

    @Test func unsupportedVersionCallsFor426() {
        let error = HTTPHandshakeError.unsupportedVersion("8")
        #expect(error.status == 426)
        #expect(error.responseHeaders.map(\.name) == ["Sec-WebSocket-Version"])
        #expect(error.responseHeaders.map(\.value) == ["13"])
        #expect(HTTPHandshakeError.invalidKey.status == 400)
        #expect(HTTPHandshakeError.invalidKey.responseHeaders.isEmpty)
    }

    @Test func response() {
        let text = String(decoding: WebSocketHandshake.response(accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), as: UTF8.self)
        #expect(
            text
                == "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        )
    }

    @Test func clientRequestParsesAndValidates() throws {
        var generator = SplitMix64(seed: 42)
        let key = WebSocketHandshake.makeClientKey(using: &generator)
        #expect(key.utf8.count == 24)
        let outcome = HTTPRequestParser().feed(WebSocketHandshake.clientRequest(host: "127.0.0.1:7700", path: "/v1/ws?user=bob", key: key))
        let request = try #require(outcome.request)
        #expect(request.isUpgrade)
        #expect(request.query["user"] == "bob")
        #expect(WebSocketHandshake.validate(request) == .success(WebSocketHandshake.acceptKey(for: key)))
        #expect(WebSocketHandshake.makeClientKey() != WebSocketHandshake.makeClientKey())
    }

    @Test func clientChecksTheResponse() {
        let key = "dGhlIHNhbXBsZSBub25jZQ=="
        let response = WebSocketHandshake.response(accept: WebSocketHandshake.acceptKey(for: key))
        let frame = WebSocketFrameEncoder.encode(opcode: .text, payload: bytes("welcome"))
        let check = { (input: [UInt8], key: String) in input.withUnsafeBytes { WebSocketHandshake.checkResponse($0, key: key) } }
        #expect(check(response + frame, key) == .accepted(consumed: response.count))
        #expect(check(Array(response.dropLast()), key) == .needMore)
        #expect(check(response, "AAAAAAAAAAAAAAAAAAAAAA==") == .rejected("wrong or missing Sec-WebSocket-Accept"))
        if case .rejected = check(bytes("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"), key) {
        } else {
            Issue.record("a 400 must be rejected")
        }
    }
}
