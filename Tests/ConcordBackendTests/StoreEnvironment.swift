import ConcordCore
import ConcordRedis
import ConcordTestSupport
import ConcordUV
import Foundation
import Testing

/// A loop thread and a manual clock (milliseconds) for store tests, with the Redis nodes a test
/// made on that loop; `close` closes them and stops the loop.
final class StoreEnvironment: @unchecked Sendable {
    let thread: LoopThread
    private let time = ManualTime()
    private var nodes: [RedisNode] = []
    private var handle: SharedRedis.Handle?
    /// Keys of one test, apart from every other test's on the shared Redis.
    let prefix = "t\(RedisNode.randomID())"

    init() throws {
        thread = try LoopThread()
    }

    /// The manual clock: what `now` closures of the stores read.
    var now: Int64 { time.value }
    func setNow(_ value: Int64) { time.value = value }
    var clock: () -> Int64 { { [time] in time.value } }

    /// A Redis node on the shared redis-server (or on `port`), started and ready.
    func node(port: Int? = nil, clock: (() -> Int64)? = nil) throws -> RedisNode {
        var target = port
        if target == nil {
            if handle == nil { handle = try SharedRedis.acquire() }
            target = handle!.port
        }
        let address = RedisAddress(host: "127.0.0.1", port: target!, prefix: prefix)
        let node: RedisNode = try thread.ask { answer in
            answer(RedisNode(loop: self.thread.loop, address: address, timeoutMilliseconds: 2_000, now: RedisConnectionTests.monotonic))
        }
        nodes.append(node)
        return node
    }

    /// Starts nodes made with `node` (after their stores listen) and waits until they are ready.
    func start(_ started: [RedisNode]) throws {
        try thread.sync { started.forEach { $0.start() } }
        try waitFor("Redis ready") { (try? self.thread.ask { answer in answer(started.allSatisfy(\.isReady)) }) == true }
    }

    func waitFor(_ what: String, timeout: Double = 10, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !condition() {
            guard Date() < deadline else { throw RedisServer.Failure("timed out waiting for \(what)") }
            usleep(2_000)
        }
    }

    func close() {
        try? thread.sync { [nodes] in nodes.forEach { $0.close() } }
        thread.stop()
        nodes = []
        handle = nil
    }
}

/// Milliseconds that a test moves by hand, read from the loop thread.
final class ManualTime: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Int64 = 0
    var value: Int64 {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

/// Makes a cluster of one kind of store for a contract suite: the in-process store is one store
/// given to every node; Redis gives one store per node, all on one Redis, started and ready.
struct ClusterFactory<Store>: CustomTestStringConvertible, Sendable {
    let name: String
    let make: @Sendable (StoreEnvironment, Int) throws -> [Store]
    var testDescription: String { name }

    static func memory(_ make: @escaping @Sendable () -> Store) -> Self {
        Self(name: "memory") { _, count in
            let store = make()
            return Array(repeating: store, count: count)
        }
    }

    /// `make` gets each node and the environment's manual clock.
    static func redis(_ make: @escaping @Sendable (RedisNode, @escaping () -> Int64) -> Store) -> Self {
        Self(name: "redis") { env, count in
            let nodes = try (0..<count).map { _ in try env.node() }
            let stores: [Store] = try env.thread.ask { answer in answer(nodes.map { make($0, env.clock) }) }
            try env.start(nodes)
            return stores
        }
    }
}

/// One node of a store contract test: its store on the environment's loop, and every change and
/// answer it heard, in order. Each suite's `Node` adds the store's commands and its barrier.
class StoreNode<Store>: @unchecked Sendable {
    let env: StoreEnvironment
    let store: Store
    let log = Mutexed<[String]>([])

    required init(_ env: StoreEnvironment, _ store: Store) {
        self.env = env
        self.store = store
    }

    var lines: [String] { log.value }

    /// Waits until every change published before it has reached this node.
    func barrier() throws {}

    /// Runs `body` on the loop, then waits until every answer and change it caused here came.
    func on(_ body: @escaping (Store) -> Void) throws {
        try env.thread.sync { body(self.store) }
        try barrier()
    }

    func read<T>(_ body: @escaping (Store) -> T) throws -> T {
        try env.thread.ask { answer in answer(body(self.store)) }
    }

    /// `count` nodes of one cluster, each logging every change it hears through `listen`.
    static func cluster<Node: StoreNode<Store>>(
        _ factory: ClusterFactory<Store>, _ env: StoreEnvironment, _ count: Int,
        listen: @escaping (Store, @escaping (String) -> Void) -> Void
    ) throws -> [Node] {
        let nodes = try factory.make(env, count).map { Node(env, $0) }
        try env.thread.sync {
            for node in nodes {
                // The memory "cluster" is one store: its changes reach every node's log.
                let sharing = nodes.filter { ($0.store as AnyObject) === (node.store as AnyObject) }
                listen(node.store) { line in sharing.forEach { $0.log.append(line) } }
            }
        }
        return nodes
    }
}
