import ConcordCore
import ConcordRedis
import ConcordServer
import ConcordTestSupport
import Foundation

/// Concord nodes sharing one real redis-server, each a `TestServer` on its own thread, for one
/// test: keys under a prefix of the test's own, so nothing another test wrote is seen.
final class Cluster {
    private(set) var redis: RedisServer
    let prefix = "t" + RedisNode.randomID()
    let nodes: [TestServer]
    /// Redis's directory when it is durable (its append-only file lives there).
    let directory: URL?
    private let redisArguments: [String]

    /// `durable`: Redis syncs every write before answering (`appendonly yes`, `appendfsync always`)
    /// to a directory of its own, as a node requires unless told to accept less; without it the
    /// nodes run with `redisWeakDurability`. `configure` runs for each node after the defaults.
    init(nodes count: Int, durable: Bool = false, configure: (inout ServerConfiguration) -> Void = { _ in }) throws {
        directory = durable ? try TestDirectory.make("redis") : nil
        redisArguments = directory.map { ["--appendonly", "yes", "--appendfsync", "always", "--dir", $0.path] } ?? []
        redis = try RedisServer(arguments: redisArguments)
        let address = RedisAddress(host: "127.0.0.1", port: redis.port, prefix: prefix)
        var nodes: [TestServer] = []
        do {
            for _ in 0..<count {
                nodes.append(
                    try TestServer {
                        $0.developmentMode = true
                        $0.demo = false
                        $0.clientPublish = [ChannelPattern("chat/*")]
                        $0.publishBurst = 1_000
                        $0.redis = address
                        $0.redisWeakDurability = !durable
                        configure(&$0)
                    })
            }
        } catch {
            for node in nodes { node.stop() }
            throw error
        }
        self.nodes = nodes
    }

    /// The address of this cluster's Redis as `--redis` takes it, for a node run as a process.
    var url: String { "redis://127.0.0.1:\(redis.port)?prefix=\(prefix)" }

    /// Kills Redis (SIGKILL, as a crash) and starts it again on the same port and directory.
    func restartRedis() throws {
        redis.stop()
        redis = try RedisServer(port: redis.port, arguments: redisArguments)
    }

    /// Moves the clock the nodes share and runs every deadline then due on each of them.
    func advance(_ clock: ManualClock, by milliseconds: Int64) {
        clock.advance(by: milliseconds)
        for node in nodes { node.checkDeadlines() }
    }

    func stop() {
        for node in nodes { node.stop() }
        redis.stop()
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    // MARK: Talking to nodes

    /// A WebSocket to `node` as `user` (development mode), after its `welcome`.
    static func connect(_ port: Int, user: String, name: String? = nil) throws -> TestWebSocket {
        let ws = try TestWebSocket(port: port, path: "/v1/ws?user=\(user)" + (name.map { "&name=\($0)" } ?? ""))
        _ = try ws.expect(op: "welcome")
        return ws
    }

    static let auth = ["Authorization": "Bearer test-key", "Content-Type": "application/json"]

    /// `GET /readyz`: its status and reason.
    static func readiness(_ port: Int) -> (status: Int, reason: String?) {
        guard let response = try? TestHTTP.request(port: port, "GET", "/readyz") else { return (0, "no answer") }
        return (response.status, response.json["reason"] as? String)
    }

    /// Waits (up to `seconds`) for something real processes do in their own time: Redis coming
    /// back, a lease lapsing. Throws naming `what` past the deadline.
    static func waitUntil(_ what: String, seconds: Double = 10, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while try !condition() {
            guard Date() < deadline else { throw TestWebSocket.Failure.timeout(what) }
            usleep(20_000)
        }
    }
}

extension TestWebSocket {
    /// Proves nothing else is queued for this connection: `pong` must be the next frame.
    func expectNothingPending() throws {
        try send(json: #"{"op":"ping","id":"probe"}"#)
        let frame = try nextJSON()
        guard frame["op"] as? String == "pong" else { throw Failure.handshake("expected nothing before pong, got \(frame)") }
    }
}
