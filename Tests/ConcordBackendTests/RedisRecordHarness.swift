import ConcordCore
import ConcordRedis
import ConcordTestSupport
import ConcordUV
import Foundation

/// A node of its own, on a loop thread of its own, with a `RedisRecordStore`: one Concord node's
/// records, as far as Redis is concerned. Ready (connected and subscribed) once `init` returns.
final class RedisRecordHarness: @unchecked Sendable {
    let thread: LoopThread
    var node: RedisNode!
    var store: RedisRecordStore!
    /// Other nodes' writes this store reported, and how often it said it lost track.
    let changes = Mutexed<[RecordChange]>([])
    let lostTrack = Mutexed<[Int]>([])
    private let subscribed = Flag()

    init(port: Int) throws {
        thread = try LoopThread()
        try thread.sync { [self] in
            node = RedisNode(
                loop: thread.loop, address: RedisAddress(host: "127.0.0.1", port: port), timeoutMilliseconds: 1_000,
                now: RedisConnectionTests.monotonic)
            store = RedisRecordStore(node: node)
            store.onChange = { [changes] in changes.append($0) }
            store.onLostTrack = { [lostTrack] in lostTrack.append(1) }
            node.listen("harness-ready", subscribed: { [subscribed] in subscribed.raise() }) { _ in }
            node.start()
        }
        try waitFor("the node to be ready and subscribed") { subscribed.isRaised && isReady }
    }

    var isReady: Bool { (try? thread.ask { answer in answer(self.node.isReady) }) ?? false }

    func subject(cleanup: @escaping () -> Void = {}) -> StoreSubject {
        StoreSubject(store, onThread: { [thread] body in try thread.sync(body) }) { [self] in
            stop()
            cleanup()
        }
    }

    func stop() {
        try? thread.sync { [self] in
            store.close()
            node.close()
        }
        thread.stop()
    }

    func waitFor(_ what: String, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(10)
        while !condition() {
            guard Date() < deadline else { throw RedisServer.Failure("timed out waiting for \(what)") }
            usleep(2_000)
        }
    }
}

/// Raised once, from any thread.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var raised = false
    func raise() { lock.withLock { raised = true } }
    var isRaised: Bool { lock.withLock { raised } }
}
