import Foundation
import Testing

/// Real server, real sockets: subscriptions, filters, HTTP publishing and cleanup.
@Suite("Channels over real sockets", .serialized)
struct ChannelIntegrationTests {
    func client(_ server: TestServer, query: String = "") throws -> TestWebSocket {
        let ws = try TestWebSocket(port: server.port, path: "/v1/ws" + query)
        let welcome = try ws.expect(op: "welcome")
        #expect(welcome["v"] as? Int == 1)
        return ws
    }

    func subscribe(_ ws: TestWebSocket, sub: String, channel: String = "resources/posts", types: String = #"["*"]"#, ids: String? = nil) throws {
        let params = ids.map { #","params":{"ids":\#($0),"subscriptionType":"useOne"}"# } ?? ""
        try ws.send(json: #"{"op":"subscribe","id":"\#(sub)","sub":"\#(sub)","channel":"\#(channel)","types":\#(types)\#(params)}"#)
        let reply = try ws.expect(op: "subscribed")
        #expect(reply["id"] as? String == sub)
        #expect(reply["sub"] as? String == sub)
    }

    func metric(_ server: TestServer, _ name: String) throws -> Int {
        let text = try TestHTTP.request(port: server.port, "GET", "/metrics").text
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Int(Double(line.split(separator: " ")[1])!)
        }
        return -1
    }

    /// Reads event frames until `count` arrived, returning (type, ids) of each.
    func events(_ ws: TestWebSocket, _ count: Int) throws -> [String] {
        try (0..<count).map { _ in
            let frame = try ws.expect(op: "event")
            let event = frame["event"] as! [String: Any]
            let ids = ((event["payload"] as? [String: Any])?["ids"] as? [Any])?.map { "\($0)" } ?? []
            return "\(event["type"]!)\(ids.isEmpty ? "" : ":" + ids.joined(separator: ","))"
        }
    }

    @Test func twoClientsReceiveExactlyWhatTheirFiltersAdmitInOrder() throws {
        let server = try TestServer()
        defer { server.stop() }
        let list = try client(server)
        let detail = try client(server)
        try subscribe(list, sub: "list")
        try subscribe(detail, sub: "one", ids: "[1]")

        let published = try TestHTTP.publish(
            port: server.port,
            #"""
            [{"channel":"resources/posts","type":"created","payload":{"ids":[3]}},
             {"channel":"resources/posts","type":"updated","payload":{"ids":[2]}},
             {"channel":"resources/posts","type":"updated","payload":{"ids":["1"]}},
             {"channel":"resources/users","type":"updated","payload":{"ids":[1]}},
             {"channel":"resources/posts","type":"deleted","payload":{"ids":[1,2]}},
             {"channel":"resources/posts","type":"approved"}]
            """#)
        #expect(published.status == 200)
        let results = published.json["results"] as? [[String: Any]]
        #expect(results?.map { $0["offset"] as? Int } == [1, 2, 3, 1, 4, 5])

        #expect(try events(list, 5) == ["created:3", "updated:2", "updated:1", "deleted:1,2", "approved"])
        #expect(try events(detail, 4) == ["created:3", "updated:1", "deleted:1,2", "approved"])
        #expect(try list.expectSilence() == nil)
        #expect(try detail.expectSilence() == nil)
    }

    @Test func eventFramesCarryOffsetsAndFilledInDates() throws {
        let server = try TestServer()
        defer { server.stop() }
        let ws = try client(server)
        try subscribe(ws, sub: "s", types: #"["updated"]"#)
        _ = try TestHTTP.publish(port: server.port, #"{"channel":"resources/posts","type":"created"}"#)
        _ = try TestHTTP.publish(port: server.port, #"{"channel":"resources/posts","type":"updated","meta":{"dataProviderName":"default"}}"#)
        let frame = try ws.expect(op: "event")
        #expect(frame["offset"] as? Int == 2)
        #expect(frame["channel"] as? String == "resources/posts")
        let event = frame["event"] as! [String: Any]
        #expect((event["date"] as? String)?.hasSuffix("Z") == true)
        #expect((event["meta"] as? [String: Any])?["dataProviderName"] as? String == "default")
    }

    @Test func unsubscribeStopsDeliveryAndDisconnectFreesSubscriptions() throws {
        let server = try TestServer()
        defer { server.stop() }
        let a = try client(server)
        let b = try client(server)
        try subscribe(a, sub: "x")
        try subscribe(a, sub: "y", channel: "resources/users")
        try subscribe(b, sub: "x")
        #expect(try metric(server, "concord_subscriptions") == 3)
        #expect(try metric(server, "concord_connections") == 2)

        try a.send(json: #"{"op":"unsubscribe","id":9,"sub":"x"}"#)
        let reply = try a.expect(op: "unsubscribed")
        #expect(reply["id"] as? Int == 9)
        _ = try TestHTTP.publish(port: server.port, #"{"channel":"resources/posts","type":"updated"}"#)
        #expect(try events(b, 1) == ["updated"])
        #expect(try a.expectSilence() == nil)

        try a.send(.close, [0x03, 0xE8])
        #expect(try a.expectClose() == 1000)
        // The server frees the connection's subscriptions once the socket is closed.
        server.waitForConnections(1)
        #expect(try metric(server, "concord_subscriptions") == 1)
        #expect(try metric(server, "concord_connections") == 1)
    }

    @Test func clientPublishIsForbiddenUnlessAllowed() throws {
        let server = try TestServer { $0.clientPublish = [.init("chat/*")] }
        defer { server.stop() }
        let ws = try client(server)
        try subscribe(ws, sub: "c", channel: "chat/room-1")
        try ws.send(json: #"{"op":"publish","id":1,"event":{"channel":"resources/posts","type":"updated"}}"#)
        let refused = try ws.expect(op: "error")
        #expect(refused["code"] as? String == "forbidden")
        #expect(refused["id"] as? Int == 1)
        try ws.send(json: #"{"op":"publish","id":2,"event":{"channel":"chat/room-1","type":"message","payload":{"text":"hi"}}}"#)
        let ack = try ws.expect(op: "published")
        #expect(ack["offset"] as? Int == 1)
        #expect(try events(ws, 1) == ["message"])
    }

    @Test func errorsLeaveTheConnectionUsable() throws {
        let server = try TestServer { $0.maxSubscriptions = 2 }
        defer { server.stop() }
        let ws = try client(server)
        let cases: [(String, String)] = [
            ("not json", "invalid_json"),
            (#"[1,2]"#, "invalid_json"),
            (#"{"op":"nope"}"#, "unknown_op"),
            (#"{"op":"subscribe","sub":"a"}"#, "invalid_frame"),
            (#"{"op":"subscribe","sub":"a","channel":"bad channel"}"#, "invalid_channel"),
            (#"{"op":"unsubscribe","sub":"zz"}"#, "unknown_subscription"),
            (#"{"op":"publish","event":{"channel":"c"}}"#, "invalid_event"),
        ]
        for (text, code) in cases {
            try ws.send(json: text)
            let error = try ws.expect(op: "error")
            #expect(error["code"] as? String == code, "for \(text)")
            #expect((error["message"] as? String)?.isEmpty == false)
        }
        try subscribe(ws, sub: "a")
        try ws.send(json: #"{"op":"subscribe","sub":"a","channel":"c"}"#)
        #expect(try ws.expect(op: "error")["code"] as? String == "duplicate_subscription")
        try subscribe(ws, sub: "b")
        try ws.send(json: #"{"op":"subscribe","sub":"c","channel":"c"}"#)
        #expect(try ws.expect(op: "error")["code"] as? String == "too_many_subscriptions")
        try ws.send(json: #"{"op":"ping","id":5}"#)
        #expect(try ws.expect(op: "pong")["id"] as? Int == 5)
        #expect(try metric(server, "concord_subscriptions") == 2)
    }

    @Test func protocolViolationsCloseWithTheRFCCode() throws {
        let server = try TestServer { $0.maxMessageBytes = 1024 }
        defer { server.stop() }
        let unmasked = try client(server)
        try unmasked.sendRaw([0x81, 0x02, 0x7B, 0x7D])
        #expect(try unmasked.expectClose() == 1002)

        let tooBig = try client(server)
        try tooBig.send(.text, [UInt8](repeating: 0x20, count: 2000))
        #expect(try tooBig.expectClose() == 1009)

        let badUTF8 = try client(server)
        try badUTF8.send(.text, [0x22, 0xC3, 0x28, 0x22])
        #expect(try badUTF8.expectClose() == 1007)

        let binary = try client(server)
        try binary.send(.binary, [1, 2, 3])
        #expect(try binary.expectClose() == 1008)
        #expect(try metric(server, "concord_protocol_errors_total") >= 3)
    }
}
