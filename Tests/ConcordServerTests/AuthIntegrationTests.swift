import ConcordAuth
import ConcordCodec
import ConcordCore
import ConcordServer
import Foundation
import Testing

/// Tokens, capabilities and origins against the real server over real sockets.
@Suite("Authentication and permissions", .serialized)
struct AuthIntegrationTests {
    static func server(_ configure: (inout ServerConfiguration) -> Void = { _ in }) throws -> TestServer {
        try TestServer {
            $0.tokenKeys = TokenKeySources(hmacSecrets: [TestToken.secret])
            configure(&$0)
        }
    }

    static func connect(_ server: TestServer, _ token: String) throws -> TestWebSocket {
        let socket = try TestWebSocket(port: server.port, path: "/v1/ws?token=\(token)")
        _ = try socket.expect(op: "welcome")
        return socket
    }

    /// The upgrade's HTTP answer (status and error code) when it is refused.
    static func upgradeStatus(_ server: TestServer, query: String = "", headers: [String: String] = [:]) throws -> (Int, String?) {
        try upgradeStatus(port: server.port, query: query, headers: headers)
    }

    static func upgradeStatus(port: Int, query: String = "", headers: [String: String] = [:]) throws -> (Int, String?) {
        var request = "GET /v1/ws\(query) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        request += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        let response = try TestHTTP.raw(port: port, Array((request + "\r\n").utf8))
        return (response.status, (response.json["error"] as? [String: Any])?["code"] as? String)
    }

    /// One command per capability, with the reply it gets when allowed.
    static let actions: [(capability: String, command: String, reply: String)] = [
        ("subscribe", #"{"op":"subscribe","id":1,"sub":"s","channel":"m/1"}"#, "subscribed"),
        ("publish", #"{"op":"publish","id":1,"event":{"channel":"m/1","type":"t"}}"#, "published"),
        ("presence", #"{"op":"presence.enter","id":1,"channel":"m/1"}"#, "presence.entered"),
        ("typing", #"{"op":"typing.start","id":1,"channel":"m/1"}"#, "typing.ok"),
        ("commit", #"{"op":"record.commit","id":1,"channel":"m/1","record":"r1","fields":{"title":"x"}}"#, "record.committed"),
    ]

    @Test func everyCapabilityIsNeededForItsCommandAndEnoughForIt() throws {
        let server = try Self.server()
        defer { server.stop() }
        for action in Self.actions {
            let others = Self.actions.map(\.capability).filter { $0 != action.capability }
            let granted = try Self.connect(server, TestToken.make(user: "alice", caps: ["m/*": [action.capability]]))
            try granted.send(json: action.command)
            let ok = try granted.nextJSON()
            #expect(ok["op"] as? String == action.reply, "\(action.capability) granted: \(ok)")

            let refused = try Self.connect(server, TestToken.make(user: "bob", caps: ["m/*": others, "elsewhere/*": [action.capability]]))
            try refused.send(json: action.command)
            let error = try refused.expect(op: "error")
            #expect(error["code"] as? String == "forbidden", "\(action.capability) lacking: \(error)")
            #expect((error["message"] as? String)?.contains("m/1") == true)
        }
    }

    @Test func recordCommandsNeedTheRecordsChannelGrant() throws {
        let server = try Self.server()
        defer { server.stop() }
        let reader = try Self.connect(server, TestToken.make(user: "alice", caps: ["m/*": ["subscribe"]]))
        try reader.send(json: #"{"op":"record.get","id":1,"channel":"m/1","record":"r1"}"#)
        #expect(try reader.nextJSON()["op"] as? String == "record.state")
        for command in [
            #"{"op":"record.edit","id":2,"channel":"m/1","record":"r1"}"#,
            #"{"op":"record.delete","id":3,"channel":"m/1","record":"r1"}"#,
        ] {
            try reader.send(json: command)
            #expect(try reader.expect(op: "error")["code"] as? String == "forbidden", "\(command)")
        }
        let stranger = try Self.connect(server, TestToken.make(user: "eve", caps: ["other/*": ["*"]]))
        try stranger.send(json: #"{"op":"record.get","id":1,"channel":"m/1","record":"r1"}"#)
        #expect(try stranger.expect(op: "error")["code"] as? String == "forbidden")
    }

    @Test func anotherUsersNotificationChannelIsRefusedWhateverTheGrants() throws {
        let server = try Self.server()
        defer { server.stop() }
        let alice = try Self.connect(server, TestToken.make(user: "alice", caps: ["*": ["*"]]))
        try alice.send(json: #"{"op":"subscribe","id":1,"sub":"mine","channel":"notifications/user/alice"}"#)
        #expect(try alice.nextJSON()["op"] as? String == "subscribed")
        try alice.send(json: #"{"op":"subscribe","id":2,"sub":"theirs","channel":"notifications/user/bob"}"#)
        let error = try alice.expect(op: "error")
        #expect(error["code"] as? String == "forbidden")
        #expect(error["message"] as? String == "notifications/user/bob belongs to another user")

        // A notification for bob reaches bob alone; one for alice reaches her, with no grant at all.
        let bob = try Self.connect(server, TestToken.make(user: "bob"))
        try bob.send(json: #"{"op":"subscribe","id":1,"sub":"mine","channel":"notifications/user/bob"}"#)
        #expect(try bob.nextJSON()["op"] as? String == "subscribed")
        #expect(try TestHTTP.publish(port: server.port, #"{"channel":"notifications/user/bob","type":"ping"}"#).status == 200)
        #expect(try bob.expect(op: "event")["channel"] as? String == "notifications/user/bob")
        #expect(try alice.expectSilence() == nil)
    }

    @Test func connectionsWithoutAValidTokenAreRefusedAtTheUpgrade() throws {
        let server = try Self.server()
        defer { server.stop() }
        #expect(try Self.upgradeStatus(server) == (401, "unauthorized"))
        #expect(try Self.upgradeStatus(server, query: "?token=\(TestToken.make(user: "a", expiresIn: -60))") == (401, "unauthorized"))
        #expect(try Self.upgradeStatus(server, query: "?token=\(TestToken.make(user: "a", secret: TestToken.secret + "!"))") == (401, "unauthorized"))
        #expect(try Self.upgradeStatus(server, query: "?token=not.a.token") == (401, "unauthorized"))
        // Non-browser clients may send the token as a bearer header instead.
        let socketless = try Self.upgradeStatus(server, headers: ["Authorization": "Bearer \(TestToken.make(user: "a", expiresIn: -60))"])
        #expect(socketless == (401, "unauthorized"))
        let metrics = try TestHTTP.request(port: server.port, "GET", "/metrics").text
        #expect(metrics.contains("concord_auth_failures_total 5"))
    }

    @Test func anExpiringTokenIsAnnouncedThenTheConnectionClosesWith4001() throws {
        let clock = ManualClock()
        let server = try Self.server {
            $0.tokenNoticeMilliseconds = 1_000
            $0.tokenRules.leewaySeconds = 0
            $0.clock = clock
            // The clock jumps by seconds: liveness must not read that as a silent connection.
            $0.pingIntervalMilliseconds = 60_000
            $0.idleTimeoutMilliseconds = 120_000
        }
        defer { server.stop() }
        // Expires in 9 to 10 s of the server's clock: the notice is due a second before, at 8 to 9 s.
        let socket = try TestWebSocket(port: server.port, path: "/v1/ws?token=\(TestToken.make(user: "alice", expiresIn: 10))")
        let welcome = try socket.expect(op: "welcome")
        let expiresAt = welcome["expiresAt"] as? Int64 ?? Int64(welcome["expiresAt"] as? Int ?? 0)
        #expect(expiresAt > 0)
        server.advance(clock, by: 9_000)
        let notice = try socket.expect(op: "token.expiring")
        #expect((notice["expiresAt"] as? NSNumber)?.int64Value == expiresAt)
        server.advance(clock, by: 1_000)
        #expect(try socket.expectClose() == 4001)
        let metrics = try TestHTTP.request(port: server.port, "GET", "/metrics").text
        #expect(metrics.contains("concord_token_expiries_total 1"))
    }

    @Test func aRefreshedTokenKeepsTheConnectionOpen() throws {
        let clock = ManualClock()
        let server = try Self.server {
            $0.tokenNoticeMilliseconds = 1_000
            $0.tokenRules.leewaySeconds = 0
            $0.clock = clock
            // The clock jumps by seconds: liveness must not read that as a silent connection.
            $0.pingIntervalMilliseconds = 60_000
            $0.idleTimeoutMilliseconds = 120_000
        }
        defer { server.stop() }
        let socket = try Self.connect(server, TestToken.make(user: "alice", caps: ["m/*": ["subscribe"]], expiresIn: 10))
        server.advance(clock, by: 9_000)
        _ = try socket.expect(op: "token.expiring")
        // A bad token or another user's is refused, and the old token still holds.
        try socket.send(json: #"{"op":"auth","id":1,"token":"nope"}"#)
        #expect(try socket.expect(op: "error")["code"] as? String == "unauthorized")
        try socket.send(json: #"{"op":"auth","id":2,"token":"\#(TestToken.make(user: "mallory", expiresIn: 60))"}"#)
        #expect(try socket.expect(op: "error")["code"] as? String == "forbidden")

        let fresh = TestToken.make(user: "alice", caps: ["m/*": ["subscribe", "publish"]], expiresIn: 60)
        try socket.send(json: #"{"op":"auth","id":3,"token":"\#(fresh)"}"#)
        let authed = try socket.expect(op: "authed")
        #expect(authed["user"] as? String == "alice")
        // Well past the first token's expiry by the server's clock, the connection still answers,
        // with the new grants.
        server.advance(clock, by: 5_000)
        try socket.send(json: #"{"op":"publish","id":4,"event":{"channel":"m/1","type":"t"}}"#)
        #expect(try socket.expect(op: "published")["channel"] as? String == "m/1")
        let metrics = try TestHTTP.request(port: server.port, "GET", "/metrics").text
        #expect(metrics.contains("concord_token_refreshes_total 1"))
        #expect(metrics.contains("concord_token_expiries_total 0"))
    }

    @Test func presenceInfoComesFromTheTokenWhenTheClientSendsNone() throws {
        let server = try Self.server()
        defer { server.stop() }
        let caps = ["room/*": ["presence"]]
        let alice = try Self.connect(server, TestToken.make(user: "alice", caps: caps, extra: #","name":"Alice","info":{"color":"red"}"#))
        let bob = try Self.connect(server, TestToken.make(user: "bob", caps: caps))
        try bob.send(json: #"{"op":"presence.subscribe","id":1,"channel":"room/1"}"#)
        _ = try bob.expect(op: "presence.snapshot")
        try alice.send(json: #"{"op":"presence.enter","id":1,"channel":"room/1"}"#)
        let join = try bob.expect(op: "presence.event")
        let member = join["member"] as? [String: Any]
        #expect(member?["user"] as? String == "alice")
        #expect((member?["info"] as? [String: Any])?["color"] as? String == "red")
    }

    @Test func originsOutsideTheAllowListAreRefused() throws {
        let server = try TestServer { $0.allowedOrigins = ["https://app.example", "https://*.example.org"] }
        defer { server.stop() }
        #expect(try Self.upgradeStatus(server, headers: ["Origin": "https://evil.example"]) == (403, "forbidden"))
        #expect(try Self.upgradeStatus(server, headers: ["Origin": "https://example.org"]) == (403, "forbidden"))
        #expect(try Self.upgradeStatus(server, headers: ["Origin": "http://app.example"]) == (403, "forbidden"))
        for origin in ["https://app.example", "https://eu.example.org"] {
            #expect(try Self.upgradeStatus(server, headers: ["Origin": origin]).0 == 101, "\(origin)")
        }
        #expect(try Self.upgradeStatus(server).0 == 101, "no Origin: not a browser")
    }

    @Test func anonymousConnectionsSubscribeOnlyWherePublicSubscribeSays() throws {
        let server = try Self.server {
            $0.allowAnonymous = true
            $0.publicSubscribe = [ChannelPattern("public/*")]
        }
        defer { server.stop() }
        let socket = try TestWebSocket(port: server.port)
        _ = try socket.expect(op: "welcome")
        try socket.send(json: #"{"op":"subscribe","id":1,"sub":"a","channel":"public/news"}"#)
        #expect(try socket.nextJSON()["op"] as? String == "subscribed")
        try socket.send(json: #"{"op":"subscribe","id":2,"sub":"b","channel":"private/news"}"#)
        #expect(try socket.expect(op: "error")["code"] as? String == "forbidden")
        try socket.send(json: #"{"op":"presence.enter","id":3,"channel":"public/news"}"#)
        #expect(try socket.expect(op: "error")["code"] as? String == "anonymous")
    }
}

/// API keys rotate without a restart: the keys file is read again on SIGHUP.
@Suite("API key rotation", .serialized)
struct APIKeyRotationTests {
    @Test func sighupRereadsTheKeysFile() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("concord-keys-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        try "# backends\nold-key\n".write(to: file, atomically: true, encoding: .utf8)
        let server = try ServerProcess(arguments: ["--port", "0", "--memory", "--api-keys-file", file.path])
        defer { server.kill9() }
        let event = #"{"channel":"c","type":"t"}"#
        #expect(try TestHTTP.publish(port: server.port, event, key: "old-key").status == 200)
        #expect(try TestHTTP.publish(port: server.port, event, key: "new-key").status == 401)

        try "new-key\n".write(to: file, atomically: true, encoding: .utf8)
        kill(server.process.processIdentifier, SIGHUP)
        var rotated = false
        for _ in 0..<50 where !rotated {
            Thread.sleep(forTimeInterval: 0.05)
            rotated = try TestHTTP.publish(port: server.port, event, key: "new-key").status == 200
        }
        #expect(rotated)
        #expect(try TestHTTP.publish(port: server.port, event, key: "old-key").status == 401)
    }
}

/// Token keys rotate without a restart too: the key files are read again on SIGHUP.
@Suite("Token key rotation", .serialized)
struct TokenKeyRotationTests {
    @Test func sighupRereadsTheSecretFileAndKeepsTheOldKeysWhenTheNewOnesAreUnusable() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("concord-secret-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        let old = TestToken.secret, new = "the-next-secret-of-at-least-thirty-two-bytes"
        try old.write(to: file, atomically: true, encoding: .utf8)
        let server = try ServerProcess(arguments: ["--port", "0", "--memory", "--jwt-secret-file", file.path])
        defer { server.kill9() }
        func status(_ secret: String) throws -> Int {
            try AuthIntegrationTests.upgradeStatus(port: server.port, query: "?token=\(TestToken.make(user: "alice", secret: secret))").0
        }
        #expect(try status(old) == 101)
        #expect(try status(new) == 401)

        try (new + "\n").write(to: file, atomically: true, encoding: .utf8)
        kill(server.process.processIdentifier, SIGHUP)
        var rotated = false
        for _ in 0..<50 where !rotated {
            Thread.sleep(forTimeInterval: 0.05)
            rotated = try status(new) == 101
        }
        #expect(rotated)
        #expect(try status(old) == 401)

        // A secret too short to use is refused and the current one stays.
        try "short".write(to: file, atomically: true, encoding: .utf8)
        kill(server.process.processIdentifier, SIGHUP)
        Thread.sleep(forTimeInterval: 0.3)
        #expect(try status(new) == 101)
    }
}

/// Development mode trusts `?user=`, so it stays on loopback unless forced, and says so loudly.
@Suite("Development mode guard", .serialized)
struct DevelopmentModeGuardTests {
    /// Runs `concord serve` with `arguments` until it exits or prints its listening line.
    static func run(_ arguments: [String]) throws -> (exited: Int32?, output: String) {
        let process = Process()
        process.executableURL = ServerProcess.binary
        process.arguments = ["serve", "--port", "0", "--memory"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        var output = ""
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, !output.contains("listening on"), process.isRunning || pipe.fileHandleForReading.availableData.count > 0 {
            let data = pipe.fileHandleForReading.availableData
            if data.isEmpty { Thread.sleep(forTimeInterval: 0.05) } else { output += String(decoding: data, as: UTF8.self) }
        }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            return (nil, output)
        }
        output += String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (process.terminationStatus, output)
    }

    @Test func devModeRefusesANonLoopbackAddress() throws {
        let (exited, output) = try Self.run(["--dev", "--host", "0.0.0.0"])
        #expect(exited != nil && exited != 0, "\(output)")
        #expect(output.contains("loopback"), "\(output)")
    }

    @Test func devModeOnLoopbackWarnsAtStart() throws {
        let (exited, output) = try Self.run(["--dev", "--host", "127.0.0.1"])
        #expect(exited == nil, "it keeps running: \(output)")
        #expect(output.contains("DEVELOPMENT MODE"), "\(output)")
    }

    @Test func devModeMayBeForcedOntoAnotherAddress() throws {
        let (exited, output) = try Self.run(["--dev", "--dev-allow-remote", "--host", "0.0.0.0"])
        #expect(exited == nil, "\(output)")
        #expect(output.contains("DEVELOPMENT MODE"), "\(output)")
    }
}
