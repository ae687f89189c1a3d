import ConcordServer
import Foundation
import Testing

@Suite("HTTP endpoints over real sockets", .serialized)
struct HTTPIntegrationTests {
    @Test func healthAndMetrics() throws {
        let server = try TestServer()
        defer { server.stop() }
        let health = try TestHTTP.request(port: server.port, "GET", "/healthz")
        #expect(health.status == 200)
        #expect(health.json["status"] as? String == "ok")
        let metrics = try TestHTTP.request(port: server.port, "GET", "/metrics")
        #expect(metrics.status == 200)
        for name in ["concord_connections", "concord_subscriptions", "concord_messages_in_total", "concord_messages_out_total"] {
            #expect(metrics.text.contains("# TYPE \(name)"), "missing \(name)")
        }
    }

    @Test func publishErrors() throws {
        let server = try TestServer { $0.maxBodyBytes = 4096 }
        defer { server.stop() }
        let event = #"{"channel":"resources/posts","type":"updated"}"#
        #expect(try TestHTTP.publish(port: server.port, event, key: "wrong").status == 401)
        let noKey = try TestHTTP.request(port: server.port, "POST", "/v1/publish", headers: ["Content-Type": "application/json"], body: event)
        #expect(noKey.status == 401)
        #expect((noKey.json["error"] as? [String: Any])?["code"] as? String == "unauthorized")
        let textBody = try TestHTTP.request(
            port: server.port, "POST", "/v1/publish", headers: ["Authorization": "Bearer test-key", "Content-Type": "text/plain"], body: event)
        #expect(textBody.status == 415)
        #expect(try TestHTTP.publish(port: server.port, "{nope").status == 400)
        let bad = try TestHTTP.publish(port: server.port, #"{"events":[\#(event),{"channel":"x"}]}"#)
        #expect(bad.status == 400)
        let error = bad.json["error"] as? [String: Any]
        #expect(error?["code"] as? String == "invalid_event")
        #expect((error?["message"] as? String)?.hasPrefix("event 1:") == true)
        // All or nothing: the valid first event of the refused batch took no offset.
        let ok = try TestHTTP.publish(port: server.port, event)
        #expect((ok.json["results"] as? [[String: Any]])?.first?["offset"] as? Int == 1)
        let big = try TestHTTP.publish(port: server.port, String(repeating: " ", count: 5000) + event)
        #expect(big.status == 413)
        #expect(try TestHTTP.request(port: server.port, "GET", "/v1/publish").status == 405)
        #expect(try TestHTTP.request(port: server.port, "GET", "/nope").status == 404)
        #expect(try TestHTTP.request(port: server.port, "GET", "/v1/ws").status == 400)
    }

    @Test func malformedRequestsGet4xx() throws {
        let server = try TestServer()
        defer { server.stop() }
        let garbage = try TestHTTP.raw(port: server.port, Array("HELLO\r\n\r\n".utf8))
        #expect(garbage.status == 400)
        let hugeHeader = try TestHTTP.raw(port: server.port, Array("GET / HTTP/1.1\r\nX: \(String(repeating: "a", count: 20000))\r\n\r\n".utf8))
        #expect(hugeHeader.status == 431)
        // The server still serves after bad input.
        #expect(try TestHTTP.request(port: server.port, "GET", "/healthz").status == 200)
    }

    @Test func healthSaysWhichVersionRuns() throws {
        let server = try TestServer()
        defer { server.stop() }
        let health = try TestHTTP.request(port: server.port, "GET", "/healthz")
        let body = String(decoding: health.body, as: UTF8.self)
        #expect(body.contains("\"version\":\"\(ConcordServer.version)\""), "\(body)")
        // The version is the package's VERSION file, and the commit was read from the clone.
        let file = try String(
            contentsOfFile: #filePath.replacingOccurrences(of: "Tests/ConcordServerTests/HTTPIntegrationTests.swift", with: "VERSION"), encoding: .utf8)
        #expect(ConcordServer.version == file.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(ConcordServer.commit.count == 12 && ConcordServer.commit.allSatisfy(\.isHexDigit), "\(ConcordServer.commit)")
    }

    @Test func keepAliveServesPipelinedRequests() throws {
        let server = try TestServer()
        defer { server.stop() }
        let two = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        let response = try TestHTTP.raw(port: server.port, Array(two.utf8))
        #expect(response.status == 200)
        #expect(response.text.contains("HTTP/1.1 200 OK"))
        #expect(response.text.components(separatedBy: "\"status\":\"ok\"").count == 3)
    }

    @Test func clientScriptIsServed() throws {
        let server = try TestServer()
        defer { server.stop() }
        let response = try TestHTTP.request(port: server.port, "GET", "/v1/client.js")
        #expect(response.status == 200)
        #expect(response.headers.lowercased().contains("content-type: text/javascript"))
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../protocol/concord.js")
        #expect(try Data(contentsOf: source) == Data(response.body))
    }
}
