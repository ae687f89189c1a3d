import ConcordRedis
import ConcordUV
import Foundation

/// One `redis-server` for every contract test in this process (started on first use, in memory),
/// and nodes on it: each test names its keys with a prefix of its own, so tests never meet.
/// The shared server's process, for the exit handler (which cannot capture).
nonisolated(unsafe) private var sharedPID: pid_t = 0

enum SharedRedis {
    private static let server = Mutexed<RedisServer?>(nil)

    static func port() throws -> Int {
        try server.update { server in
            if let server { return server.port }
            let started = try RedisServer()
            server = started
            // Statics are never deinitialized: stop it when the test process ends.
            sharedPID = started.pid
            atexit { kill(sharedPID, SIGKILL) }
            return started.port
        }
    }

    /// A fresh key prefix, so that a test sees none of another's keys.
    static func freshPrefix() -> String { "t" + RedisNode.randomID() }

    /// A node on `thread`, connected (waits until Redis answers).
    static func node(on thread: LoopThread, prefix: String, now: @escaping () -> Int64 = RedisConnectionTests.monotonic) throws -> RedisNode {
        let address = RedisAddress(host: "127.0.0.1", port: try port(), prefix: prefix)
        let node: RedisNode = try thread.ask { answer in
            let node = RedisNode(loop: thread.loop, address: address, timeoutMilliseconds: 2_000, now: now)
            node.start()
            answer(node)
        }
        let deadline = Date().addingTimeInterval(10)
        while try thread.ask({ answer in answer(node.isReady) }) == false {
            guard Date() < deadline else { throw RedisServer.Failure("Redis at port \(address.port) did not become ready") }
            usleep(2_000)
        }
        return node
    }
}
