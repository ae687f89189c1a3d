import ConcordCodec
import ConcordServer
import Foundation
import Testing

/// `concord echo` runs the production transport with `EchoApplication` in place of protocol v1.
@Suite("Echo mode")
struct EchoModeTests {
    @Test func everyMessageComesBackAsItCameOnAnyPathWithoutTheProtocol() throws {
        let server = try TestServer { $0.echoOnly = true }
        defer { server.stop() }
        let ws = try TestWebSocket(port: server.port, path: "/any/path")
        // No welcome: nothing of protocol v1 is spoken.
        try ws.send(json: #"{"op":"subscribe","sub":"s","channel":"c"}"#)
        guard case .text(let text) = try ws.next() else { Issue.record("expected the text back"); return }
        #expect(String(decoding: text, as: UTF8.self) == #"{"op":"subscribe","sub":"s","channel":"c"}"#)
        // Binary messages, which protocol v1 refuses with 1008, come back too, and larger than its limit.
        let big = (0..<200_000).map { UInt8(truncatingIfNeeded: $0) }
        try ws.send(.binary, big)
        guard case .binary(let echoed) = try ws.next() else { Issue.record("expected the binary message back"); return }
        #expect(echoed == big)
        try ws.send(.close, [0x03, 0xE8])
        #expect(try ws.expectClose() == 1000)
    }

    @Test func protocolV1RefusesWhatEchoModeEchoes() throws {
        let server = try TestServer()
        defer { server.stop() }
        let ws = try TestWebSocket(port: server.port)
        _ = try ws.expect(op: "welcome")
        try ws.send(.binary, [1, 2, 3])
        #expect(try ws.expectClose() == 1008)
        #expect(try TestHTTP.request(port: server.port, "GET", "/any/path").status == 404)
    }
}
