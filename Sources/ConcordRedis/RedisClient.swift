import ConcordUV

/// One Redis kept in reach: a connection for commands and one for pub/sub (RESP2 cannot mix them),
/// both authenticated, the command one on the address's database. After a loss it reconnects with
/// backoff, subscribes again to every channel it was asked for, and says so through `onState`;
/// while it is down, commands fail at once (never queued to run late).
public final class RedisClient {
    public enum State: Equatable, Sendable {
        case connecting
        case ready
        /// Lost, or never reached: why, and the next attempt is scheduled.
        case down(String)
    }

    public let address: RedisAddress
    private let loop: EventLoop
    private let now: () -> Int64
    private let timeoutMilliseconds: Int64
    private let backoff: ClosedRange<Int64>
    private var commands: RedisConnection?
    private var pubSub: RedisConnection?
    private var channels: Set<String> = []
    private var retryTimer: LoopTimer?
    private var nextDelay: Int64
    private var closed = false
    /// Both connections are up and authenticated: commands go out (also before `ready`).
    private var connected = false
    /// Channels subscribed again after a (re)connect and not yet confirmed: the client is `ready`
    /// only once Redis confirmed them all, so that nothing published from then on is missed.
    private var unconfirmed: Set<String> = []
    /// Counts attempts, so that callbacks of an abandoned attempt are told apart.
    private var attempt = 0

    public private(set) var state = State.connecting
    public var onState: ((State) -> Void)?
    /// A message on a subscribed channel: its channel and payload.
    public var onMessage: ((String, [UInt8]) -> Void)?
    /// Redis confirmed a subscription, at first or again after a reconnect: messages published
    /// on it from here on arrive (those published while it was not in place did not).
    public var onSubscribed: ((String) -> Void)?

    public init(
        loop: EventLoop, address: RedisAddress, timeoutMilliseconds: Int64 = 2_000, backoff: ClosedRange<Int64> = 100...5_000,
        now: @escaping () -> Int64
    ) {
        self.loop = loop
        self.address = address
        self.timeoutMilliseconds = timeoutMilliseconds
        self.backoff = backoff
        self.now = now
        nextDelay = backoff.lowerBound
    }

    deinit { close() }

    /// Connects now (and again after every loss, until `close`).
    public func start() {
        connect()
    }

    /// Sends a command when ready; fails at once otherwise.
    public func send(_ arguments: [[UInt8]], done: @escaping RedisConnection.Done) {
        guard connected, let commands else {
            return done(.failure(RedisConnection.Failure("Redis at \(address) is unavailable: \(reason)")))
        }
        commands.send(arguments, done: done)
    }

    public func send(_ arguments: [String], done: @escaping RedisConnection.Done) {
        send(arguments.map { Array($0.utf8) }, done: done)
    }

    /// Subscribes now if ready, and again after every reconnect.
    public func subscribe(_ channel: String) {
        guard channels.insert(channel).inserted else { return }
        if connected { pubSub?.subscribe([channel]) }
    }

    public func unsubscribe(_ channel: String) {
        guard channels.remove(channel) != nil else { return }
        unconfirmed.remove(channel)
        if connected {
            pubSub?.unsubscribe([channel])
            if unconfirmed.isEmpty, state != .ready { setState(.ready) }
        }
    }

    public func close() {
        closed = true
        retryTimer?.close()
        retryTimer = nil
        dropConnections()
    }

    private var reason: String {
        if case .down(let why) = state { return why }
        return "not connected yet"
    }

    // MARK: Connecting

    private func connect() {
        guard !closed else { return }
        attempt += 1
        let this = attempt
        // After a loss the state stays `down`, with its reason, until the connection is back.
        if case .down = state {} else { setState(.connecting) }
        var up = 0
        let connected: (Result<Void, RedisConnection.Failure>) -> Void = { [unowned self] result in
            guard this == attempt else { return }
            switch result {
            case .failure(let failure): lost(failure.reason)
            case .success:
                up += 1
                if up == 2 { ready() }
            }
        }
        commands = RedisConnection(
            loop: loop, host: address.host, port: address.port, mode: .commands, timeoutMilliseconds: timeoutMilliseconds, now: now
        ) { [unowned self] result in
            guard case .success = result, this == attempt, let commands else { return connected(result) }
            handshake(commands, database: address.database, done: connected)
        }
        pubSub = RedisConnection(
            loop: loop, host: address.host, port: address.port, mode: .pubSub, timeoutMilliseconds: timeoutMilliseconds, now: now
        ) { [unowned self] result in
            guard case .success = result, this == attempt, let pubSub else { return connected(result) }
            // Redis takes AUTH on a connection before it subscribes; the database does not matter to pub/sub.
            handshake(pubSub, database: nil, done: connected)
        }
        for connection in [commands, pubSub] {
            connection?.onDisconnect = { [unowned self] failure in
                if this == attempt { lost(failure.reason) }
            }
        }
        pubSub?.onMessage = { [unowned self] channel, payload in onMessage?(channel, payload) }
        pubSub?.onSubscribed = { [unowned self] channel in
            guard this == attempt, channels.contains(channel) else { return }
            onSubscribed?(channel)
            if unconfirmed.remove(channel) != nil, unconfirmed.isEmpty { setState(.ready) }
        }
    }

    /// AUTH (when the address has a password), SELECT (when it names a database), then PING, in
    /// order. A connection is ready only once Redis has answered on it: the kernel accepts a TCP
    /// connection for a Redis that is stopped or stuck, and a client counted ready then would
    /// report ready and send commands that are failed as timed out but run when Redis wakes.
    private func handshake(_ connection: RedisConnection, database: Int?, done: @escaping (Result<Void, RedisConnection.Failure>) -> Void) {
        let steps = address.handshakeCommands(selectingDatabase: database != nil) + [["PING"]]
        func next(_ index: Int) {
            guard index < steps.count else { return done(.success(())) }
            connection.handshakeCommand(steps[index]) { result in
                switch result {
                case .success(.error(let message)):
                    done(.failure(RedisConnection.Failure("\(steps[index][0]) was refused: \(message)")))
                case .success:
                    next(index + 1)
                case .failure(let failure):
                    done(.failure(failure))
                }
            }
        }
        next(0)
    }

    private func ready() {
        nextDelay = backoff.lowerBound
        connected = true
        unconfirmed = channels
        if channels.isEmpty { return setState(.ready) }
        pubSub?.subscribe(Array(channels))
    }

    private func lost(_ why: String) {
        guard !closed else { return }
        attempt += 1  // callbacks of the lost attempt are ignored from here
        dropConnections()
        setState(.down(why))
        let delay = nextDelay
        nextDelay = min(nextDelay * 2, backoff.upperBound)
        if retryTimer == nil {
            retryTimer = try? LoopTimer(loop: loop)
        }
        retryTimer?.start(afterMilliseconds: UInt64(delay)) { [unowned self] in connect() }
    }

    private func dropConnections() {
        connected = false
        unconfirmed = []
        let old = [commands, pubSub]
        commands = nil
        pubSub = nil
        for connection in old {
            connection?.onDisconnect = nil
            connection?.close()
        }
    }

    private func setState(_ new: State) {
        guard new != state else { return }
        state = new
        onState?(new)
    }
}
