import ConcordUV

/// This node's view of the shared Redis, which every Redis backend (broker, presence, typing,
/// records) uses: one `RedisClient`, the node's id, key names, scripts, and the pub/sub messages
/// routed to whoever listens, each behind its acknowledgement when this node published it.
///
/// Every message a backend publishes starts with a header line, `NODE SEQ`, which its script gets
/// as `ARGV[1]` (`header`): the node that published and the number of its command, so that this
/// node's own messages wait for their answers (`AckGate`).
public final class RedisNode {
    /// Random per process: a restarted node is a new node (its old lease expires on its own).
    public let id: String
    public let prefix: String
    public let client: RedisClient
    private var gate = AckGate<(channel: String, payload: ArraySlice<UInt8>)>()
    private var routes: [String: Route] = [:]

    private struct Route {
        let message: (ArraySlice<UInt8>) -> Void
        let subscribed: () -> Void
    }
    private var stateObservers: [(RedisClient.State) -> Void] = []
    /// Scripts loaded on this connection to Redis (a new connection may be to a Redis without them).
    private var loaded: Set<String> = []

    public init(loop: EventLoop, address: RedisAddress, timeoutMilliseconds: Int64 = 2_000, id: String = RedisNode.randomID(), now: @escaping () -> Int64) {
        self.id = id
        prefix = address.prefix
        client = RedisClient(loop: loop, address: address, timeoutMilliseconds: timeoutMilliseconds, now: now)
        client.onMessage = { [unowned self] channel, payload in received(channel, payload) }
        client.onSubscribed = { [unowned self] channel in routes[channel]?.subscribed() }
        client.onState = { [unowned self] state in
            // A new connection may be to a Redis without the scripts (they were loaded, if at
            // all, before it came: commands go out before `ready`, while subscriptions are confirmed).
            if case .ready = state {
            } else {
                deliver(gate.answerAll())
                loaded = []
            }
            for observer in stateObservers { observer(state) }
        }
    }

    /// Twelve random letters and digits.
    public static func randomID() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<12).map { _ in alphabet.randomElement()! })
    }

    public func start() { client.start() }
    public func close() { client.close() }

    public var state: RedisClient.State { client.state }
    public var isReady: Bool { client.state == .ready }

    /// Calls `observer` with every change of the connection's state, after the node has dealt with it.
    public func observeState(_ observer: @escaping (RedisClient.State) -> Void) {
        stateObservers.append(observer)
    }

    // MARK: Names

    /// A key of one channel: the channel is its hash tag, so that every key one script touches for a
    /// channel shares a Redis Cluster slot.
    public func key(_ channel: String, _ suffix: String) -> String {
        "\(prefix):{\(channel)}:\(suffix)"
    }

    /// A key of no channel (node leases, the node list).
    public func key(_ name: String) -> String {
        "\(prefix):\(name)"
    }

    // MARK: Commands and scripts

    public func send(_ arguments: [String], done: @escaping RedisConnection.Done) {
        client.send(arguments, done: done)
    }

    /// Runs `script` with `keys` and `arguments` after the header (`ARGV[1]`). With `gated`, the
    /// messages it publishes reach their listeners only after `done` has run.
    public func run(_ script: RedisScript, keys: [String], arguments: [[UInt8]], gated: Bool = true, done: @escaping RedisConnection.Done) {
        let seq = gated ? gate.next() : 0
        let header = Array("\(id) \(seq)".utf8)
        var command: [[UInt8]] = [Array("EVALSHA".utf8), Array(script.sha1.utf8), Array(String(keys.count).utf8)]
        command += keys.map { Array($0.utf8) }
        command.append(header)
        command += arguments
        let finish: RedisConnection.Done = { [weak self] result in
            done(result)
            if gated, let self { deliver(gate.answered(seq)) }
        }
        // Loaded just ahead of its first use on this connection, so that EVALSHA never meets
        // NOSCRIPT: sending the text again after NOSCRIPT would put the script behind commands
        // sent after it, out of order.
        if loaded.insert(script.sha1).inserted {
            client.send([Array("SCRIPT".utf8), Array("LOAD".utf8), Array(script.source.utf8)]) { _ in }
        }
        client.send(command) { [weak self] result in
            guard case .success(.error(let message)) = result, message.hasPrefix("NOSCRIPT"), let self else { return finish(result) }
            command[0] = Array("EVAL".utf8)
            command[1] = Array(script.source.utf8)
            client.send(command, done: finish)
        }
    }

    public func run(_ script: RedisScript, keys: [String], arguments: [String], gated: Bool = true, done: @escaping RedisConnection.Done) {
        run(script, keys: keys, arguments: arguments.map { Array($0.utf8) }, gated: gated, done: done)
    }

    // MARK: Pub/sub

    /// Subscribes to a Redis channel; its messages (without their header) reach `handler`.
    /// `subscribed` runs each time Redis confirms the subscription (at first, and after every
    /// reconnect): messages published before that point may be missing.
    public func listen(_ channel: String, subscribed: @escaping () -> Void = {}, _ handler: @escaping (ArraySlice<UInt8>) -> Void) {
        routes[channel] = Route(message: handler, subscribed: subscribed)
        client.subscribe(channel)
    }

    public func unlisten(_ channel: String) {
        routes[channel] = nil
        client.unsubscribe(channel)
    }

    private func received(_ channel: String, _ payload: [UInt8]) {
        guard let newline = payload.firstIndex(of: UInt8(ascii: "\n")) else { return }
        let header = payload[..<newline].split(separator: UInt8(ascii: " "))
        guard header.count == 2, let seq = UInt64(String(decoding: header[1], as: UTF8.self)) else { return }
        let own = header[0].elementsEqual(id.utf8)
        deliver(gate.received((channel, payload[(newline + 1)...]), seq: own && seq > 0 ? seq : nil))
    }

    private func deliver(_ messages: [(channel: String, payload: ArraySlice<UInt8>)]) {
        for message in messages { routes[message.channel]?.message(message.payload) }
    }
}
