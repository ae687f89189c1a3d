import ConcordRedis
import ConcordTestSupport
import ConcordUV
import Foundation

/// One redis-server for the backend suites that run beside each other, started by the first that
/// needs it and stopped when the last lets go (so no process outlives the tests). Each test keeps
/// its keys apart with a prefix of its own.
enum SharedRedis {
    private static let lock = NSLock()
    private static var server: RedisServer?
    private static var users = 0

    final class Handle {
        let port: Int
        init(port: Int) { self.port = port }
        deinit { SharedRedis.release() }
    }

    static func acquire() throws -> Handle {
        try lock.withLock {
            if server == nil { server = try RedisServer() }
            users += 1
            return Handle(port: server!.port)
        }
    }

    fileprivate static func release() {
        lock.withLock {
            users -= 1
            if users == 0 {
                server?.stop()
                server = nil
            }
        }
    }
}

extension SharedRedis {
    /// A fresh key prefix, so that a test sees none of another's keys.
    static func freshPrefix() -> String { "t" + RedisNode.randomID() }

    /// A node on `thread` connected to the shared server (waits until Redis answers); the node
    /// holds `handle` until the test lets both go.
    static func node(on thread: LoopThread, handle: Handle, prefix: String) throws -> RedisNode {
        let address = RedisAddress(host: "127.0.0.1", port: handle.port, prefix: prefix)
        let node: RedisNode = try thread.ask { answer in
            let node = RedisNode(loop: thread.loop, address: address, timeoutMilliseconds: 2_000, now: RedisConnectionTests.monotonic)
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
