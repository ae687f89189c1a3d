import ConcordAuth
import ConcordCodec
import ConcordCore
import ConcordRedis
import ConcordUV
import Foundation
import Logging
import Synchronization

/// The Concord server: one libuv loop thread owning every connection, subscription and counter.
public final class ConcordServer {
    /// This build's version (the package's `VERSION` file) and the commit it was built from.
    public static let version = EmbeddedResources.version
    public static let commit = EmbeddedResources.commit

    public let configuration: ServerConfiguration
    let loop: EventLoop
    /// The time, as deadlines and dates read it (`ServerConfiguration.clock`, else the real clocks).
    let clock: any ServerClock
    let logger: Logger
    let metrics = ServerMetrics()
    /// Names this run of the server; offsets from different epochs are not comparable.
    public let epoch: String
    /// This node's subscriptions and watches, and the one path events and changes reach them by.
    let hub: Hub
    /// Numbers events per channel and carries them to this node's subscribers (`deliver`).
    let broker: any Broker
    /// Who is present where; its changes reach this node's watchers through the hub.
    let presence: any PresenceStore
    /// Who is typing where; its changes reach this node's watchers through the hub.
    let typing: any TypingStore
    /// This node's view of the Redis several nodes share; nil for a node on its own.
    let redis: RedisNode?
    /// Records: the cache of the working set, the store behind it, group commit.
    let records: RecordService
    /// Tokens, grants, API keys and token deadlines: who may connect and do what.
    let auth: AuthFeature
    /// What WebSocket sessions speak: protocol v1 (`CommandRouter`), or echo (`concord echo`).
    private(set) lazy var application: any WebSocketApplication =
        configuration.echoOnly ? EchoApplication() : CommandRouter(server: self)
    /// `subscribe`, `unsubscribe`, `publish`, and every publisher's way to the broker.
    private(set) lazy var channels = ChannelsFeature(server: self)
    /// `GET /v1/sse`: subscriptions over Server-Sent Events.
    private(set) lazy var eventStreams = EventStreamFeature(server: self)
    /// The `record.*` commands, editing sessions and commits.
    private(set) lazy var recordCommands = RecordsFeature(server: self)
    /// Presence and typing commands.
    private(set) lazy var presenceCommands = PresenceFeature(server: self)
    /// Which endpoint answers an HTTP request.
    let router = HTTPRouter()
    /// The one timer behind every deadline.
    let deadlines: DeadlineScheduler
    /// Each connection's next ping, idle or close check.
    let liveness: LivenessMonitor
    /// Open connections, sessions, and the counts the connection limits check.
    let connections = ConnectionTable()
    private var listener: TCPListener?
    private var forceStopTimer: LoopTimer?
    private var signals: [LoopSignal] = []
    /// Wakes the loop to shut down; guarded, since `requestStop` may come from any thread at any
    /// time, also after the loop closed the handle.
    private let stopAsync = Mutex<LoopAsync?>(nil)
    /// What other threads ask of the loop (`checkDeadlines`, `countConnections`).
    private var requests: LoopMailbox<LoopRequest>?

    private enum LoopRequest: Sendable {
        case checkDeadlines(then: @Sendable () -> Void)
        case countConnections(answer: @Sendable (Int) -> Void)
    }
    private var shuttingDown = false
    var shuttingDownNow: Bool { shuttingDown }
    let clientScript: [UInt8]

    /// Creates the server and its loop on the calling thread, which must also call `run()`.
    public init(configuration: ServerConfiguration, logger: Logger = Logger(label: "concord")) throws {
        self.configuration = configuration
        self.logger = logger
        loop = try EventLoop()
        clock = configuration.clock ?? SystemClock(loop: loop)
        epoch = Self.makeEpoch()
        let clock = self.clock
        hub = Hub(metrics: metrics, ticks: { clock.monotonicMilliseconds() })
        deadlines = DeadlineScheduler(loop: loop, clock: clock)
        liveness = LivenessMonitor(configuration: configuration, metrics: metrics, logger: logger)
        clientScript = ClientScript.load()
        auth = try AuthFeature(configuration: configuration, logger: logger)
        let backends = try ServerBackends.make(configuration: configuration, loop: loop, clock: clock, logger: logger)
        let store = backends.records
        broker = backends.broker
        presence = backends.presence
        typing = backends.typing
        redis = backends.redis
        records = try RecordService(
            store: store, loop: loop, logger: logger,
            capacity: configuration.recordCacheSize, maxActors: configuration.maxRecordActors)
        broker.onEvent = { [unowned hub] in hub.deliver($0) }
        (broker as? RedisBroker)?.onStreamReset = { [unowned self] channel in streamReset(channel) }
        var previousState = redis?.state ?? .ready
        redis?.observeState { [unowned self] state in
            redisStateChanged(state, was: previousState)
            previousState = state
        }
        presence.onChange = { [unowned hub] in hub.deliver($0) }
        typing.onChange = { [unowned hub] in hub.deliver($0) }
        auth.server = self
        registerDeadlines()
        try registerRoutes(
            demoBoard: configuration.demoEnabled ? DemoBoard(postIDs: try store.ids(in: DemoBoard.postsChannel, limit: DemoBoard.maxPosts)) : nil)
    }

    /// Puts every deadline queue behind the one timer.
    private func registerDeadlines() {
        deadlines.add(next: { [unowned self] in liveness.nextDeadline }) { [unowned self] now in liveness.tick(now: now) }
        deadlines.add(next: { [unowned self] in auth.nextTokenCheck() }) { [unowned self] now in auth.tokenChecksDue(now: now) }
        deadlines.add(next: { [unowned self] in presence.nextDeadline }) { [unowned self] now in presence.tick(now: now) }
        deadlines.add(next: { [unowned self] in typing.nextDeadline }) { [unowned self] now in typing.tick(now: now) }
        deadlines.add(next: { [unowned self] in hub.nextCoalescingDeadline }) { [unowned self] now in hub.coalescingDue(now: now) }
        // History past its age is dropped every few seconds (and past its size at each publish).
        var nextSweep = ticks + Self.historySweepMilliseconds
        deadlines.add(next: { nextSweep }) { [unowned self] now in
            broker.sweep(now: self.now())
            nextSweep = now + Self.historySweepMilliseconds
        }
    }

    /// Gives every endpoint its paths. The demo reads only its own channel at start (`demoBoard`),
    /// never the whole store.
    private func registerRoutes(demoBoard: DemoBoard?) throws {
        let recordsHTTP = RecordsHTTP(server: self)
        router.add(.tree("/v1/records")) { request, answer in recordsHTTP.respond(to: request, answer: answer) }
        if let demoBoard {
            let demo = DemoApp(server: self, board: demoBoard)
            router.add(.tree(DemoApp.prefix)) { request, answer in demo.respond(to: request, answer: answer) }
            recordCommands.onAccepted = { key, state in demo.noteCommit(key, state) }
            demo.seed()
        } else {
            router.add(
                .tree(DemoApp.prefix),
                now: { _ in
                    .error(404, ProtocolError(.notFound, "the demo is off: start with --dev or --demo"))
                })
        }
        let presenceHTTP = PresenceHTTP(server: self)
        router.add(.prefix(PresenceHTTP.prefix)) { request, answer in presenceHTTP.respond(to: request, answer: answer) }
        router.add(.exact("/v1/publish")) { [unowned self] request, answer in channels.publishOverHTTP(request, answer: answer) }
        router.addStream("/v1/sse") { [unowned self] request, connection in eventStreams.open(request, on: connection) }
        router.add(.exact("/v1/history")) { [unowned self] request, answer in channels.historyOverHTTP(request, answer: answer) }
        ServerEndpoints.register(in: router, server: self)
    }

    static let historySweepMilliseconds: Int64 = 5_000

    static func makeEpoch() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<8).map { _ in alphabet.randomElement()! })
    }

    /// Binds the listening socket and returns the port (useful with port 0).
    @discardableResult
    public func bind() throws -> Int {
        let listener = try TCPListener(loop: loop, host: configuration.host, port: configuration.port)
        try listener.listen { [unowned self] stream in self.accept(stream) }
        self.listener = listener
        try deadlines.start()
        let async = try LoopAsync(loop: loop) { [unowned self] in self.shutdown() }
        stopAsync.withLock { $0 = async }
        requests = try LoopMailbox(loop: loop) { [unowned self] (requests: [LoopRequest]) in
            for request in requests {
                switch request {
                case .checkDeadlines(let done):
                    deadlines.tickNow()
                    done()
                case .countConnections(let answer):
                    answer(connections.count)
                }
            }
        }
        return listener.port
    }

    /// Stops gracefully on SIGINT and SIGTERM; re-reads the API keys and token key files on SIGHUP.
    public func handleSignals() throws {
        for signal in [SIGINT, SIGTERM] {
            signals.append(
                try LoopSignal(loop: loop, signal: signal) { [unowned self] in
                    self.logger.info("signal received, shutting down")
                    self.shutdown()
                })
        }
        signals.append(
            try LoopSignal(loop: loop, signal: SIGHUP) { [unowned self] in
                self.auth.reloadAPIKeys()
                self.auth.reloadTokenKeys()
            })
    }

    /// Runs the loop until `shutdown()` completes, then releases the loop and the record store.
    public func run() {
        loop.run()
        broker.close()
        records.close()
        redis?.close()
        loop.close()
    }

    /// Thread-safe: runs every deadline that is due by the clock now, at once, then `done` (on the
    /// loop thread). With a clock a test drives (`ServerConfiguration.clock`), the test moves the
    /// time and then calls this.
    public func checkDeadlines(then done: @escaping @Sendable () -> Void = {}) {
        requests?.post(.checkDeadlines(then: done))
    }

    /// Thread-safe: answers, on the loop thread, how many connections are open (HTTP ones too), so
    /// a test can wait until the server has seen a connection come or go.
    public func countConnections(_ answer: @escaping @Sendable (Int) -> Void) {
        requests?.post(.countConnections(answer: answer))
    }

    /// Thread-safe request to shut down; `run()` returns once connections have closed.
    public func requestStop() {
        stopAsync.withLock { $0?.send() }
    }

    /// Tells a client when to come back and closes its connection: a WebSocket gets a `reconnect`
    /// push and 4012, an event stream `retry:`. It recovers its subscriptions from history when it
    /// returns (here or on another node).
    func askToReconnect(_ connection: Connection, afterMilliseconds after: Int64, reason: String) {
        if connection.phase == .webSocket {
            connection.sendText(ServerFrame.reconnect(afterMilliseconds: after))
            connection.sendClose(code: 4012, reason: reason)
        } else if connection.phase == .eventStream {
            // EventSource waits `retry` before it reconnects (with Last-Event-ID).
            connection.stream.send(SharedBytes(Array("retry: \(max(after, 1))\n\n".utf8)))
            connection.beginClosing()
        }
    }

    /// Stops accepting, tells every WebSocket when to reconnect and closes it with 4012, and lets the
    /// loop end once they are gone.
    func shutdown() {
        guard !shuttingDown else { return }
        shuttingDown = true
        listener?.close()
        deadlines.stop()
        stopAsync.withLock { async in
            async?.close()
            async = nil
        }
        requests?.close()
        signals.forEach { $0.close() }
        signals = []
        // Drain: every client is told when to come back, spread over the drain window, and closed
        // with 4012 (service restart); its subscriptions recover from history when it returns. (1012, the registered code
        // for a restart, is refused as invalid by strict WebSocket clients, ours included.)
        for connection in connections.all.values {
            let after = configuration.drainWindowMilliseconds > 0 ? Int64.random(in: 0...configuration.drainWindowMilliseconds) : 0
            if connection.phase == .webSocket || connection.phase == .eventStream {
                askToReconnect(connection, afterMilliseconds: after, reason: "server restarting")
            } else {
                connection.stream.close()
            }
        }
        // A peer that never reads must not hold the shutdown hostage.
        if let timer = try? LoopTimer(loop: loop) {
            timer.start(afterMilliseconds: 2_000) { [unowned self] in
                self.connections.all.values.forEach { $0.stream.close() }
                self.forceStopTimer?.close()
                self.releaseRedisWhenDrained(force: true)
            }
            timer.unref()
            forceStopTimer = timer
        }
        releaseRedisWhenDrained()
    }

    private func accept(_ stream: TCPStream) {
        let address = stream.peerAddress ?? "unknown"
        if connections.count >= configuration.maxConnections {
            metrics.hit(.connections)
            return refuse(
                stream, .error(503, ProtocolError(.tooManyConnections, "the server has \(configuration.maxConnections) connections open, the most it accepts")))
        }
        if configuration.maxConnectionsPerIP > 0, connections.count(from: address) >= configuration.maxConnectionsPerIP {
            metrics.hit(.connectionsPerIP)
            return refuse(
                stream,
                .error(
                    429, ProtocolError(.tooManyConnections, "\(address) has \(configuration.maxConnectionsPerIP) connections open, the most one address may")))
        }
        let connection = Connection(server: self, stream: stream, number: connections.nextNumber(), address: address)
        connections.opened(connection)
        stream.delegate = connection
        stream.startReading()
        let handshake = min(configuration.handshakeTimeoutMilliseconds, configuration.idleTimeoutMilliseconds)
        scheduleLivenessCheck(connection, at: ticks + Int64(handshake))
    }

    /// Answers a connection the server will not take with one response, and closes it.
    private func refuse(_ stream: TCPStream, _ response: HTTPResponse) {
        final class Refused: TCPStreamDelegate {
            func streamDidRead(_ stream: TCPStream, _ bytes: UnsafeRawBufferPointer) {}
            func streamDidEnd(_ stream: TCPStream, error: UVError) { stream.close() }
            func streamDidClose(_ stream: TCPStream) { stream.delegate = nil }
        }
        stream.delegate = Refused()
        stream.send(SharedBytes(response.serialized(keepAlive: false)))
        stream.closeAfterFlush()
    }

    func webSocketOpened(_ connection: Connection) {
        connection.isWebSocket = true
        connections.upgraded(connection)
        scheduleLivenessCheck(connection, at: ticks + Int64(configuration.pingIntervalMilliseconds))
        application.opened(connection)
    }

    /// An event stream started on a connection: it counts as a session, gets heartbeats, and its
    /// token's expiry ends it.
    func streamOpened(_ connection: Connection) {
        connection.isWebSocket = true
        connections.upgraded(connection)
        scheduleLivenessCheck(connection, at: ticks + Int64(configuration.pingIntervalMilliseconds))
        auth.scheduleTokenDeadline(connection)
    }

    func scheduleLivenessCheck(_ connection: Connection, at deadline: Int64) {
        liveness.schedule(connection, at: deadline)
        armDeadlines()
    }

    /// A peer that never reads must not keep a closing connection forever.
    func closingStarted(_ connection: Connection, graceMilliseconds: UInt64) {
        scheduleLivenessCheck(connection, at: ticks + Int64(graceMilliseconds))
    }

    /// Re-arms the one deadline timer at the end of this loop turn.
    func armDeadlines() {
        deadlines.arm()
    }

    func connectionClosed(_ connection: Connection) {
        let userConnectionsLeft = connections.closed(connection)
        defer { if shuttingDown { releaseRedisWhenDrained() } }
        liveness.cancel(connection)
        auth.connectionClosed(connection)
        channels.connectionClosed(connection)
        guard connection.isWebSocket else { return }
        recordCommands.connectionClosed(connection, lastOfUser: userConnectionsLeft == 0)
        if connection.vanished || shuttingDown {
            // A client whose network blinked reconnects and re-enters within the idle deadline; until
            // then its presence stays, so the others see no leave and join, only a lasting absence.
            // So does one told to reconnect by a draining server (elsewhere, or after the restart).
            presence.expire(.session(connection.session.id), at: ticks + Int64(configuration.idleTimeoutMilliseconds))
        } else {
            presence.removeAll(.session(connection.session.id)) { _ in }
        }
        if let user = connection.session.user, userConnectionsLeft == 0 {
            typing.stopAll(user: user)
        }
        armDeadlines()
    }

    /// Whether a WebSocket is still open for commands: answers that arrive after a store read
    /// must not register anything for a connection that has gone meanwhile.
    func isOpen(_ connection: Connection) -> Bool {
        connection.phase == .webSocket && connections.isOpen(connection)
    }

    /// The wall clock, read here in the shell and handed to the core.
    func now() -> Timestamp { clock.wallNow() }

    /// Milliseconds on the monotonic clock that every deadline is counted on.
    var ticks: Int64 { clock.monotonicMilliseconds() }
}
