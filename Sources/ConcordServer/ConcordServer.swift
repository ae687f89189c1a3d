import ConcordCodec
import ConcordCore
import ConcordUV
import Foundation
import Logging

/// The Concord server: one libuv loop thread owning every connection, subscription and counter.
public final class ConcordServer {
    public let configuration: ServerConfiguration
    let loop: EventLoop
    let logger: Logger
    let metrics = ServerMetrics()
    /// Names this run of the server; offsets from different epochs are not comparable.
    public let epoch: String
    var registry = ChannelRegistry<Connection>()
    var connections: [ObjectIdentifier: Connection] = [:]
    var webSocketCount = 0
    private var nextConnectionNumber: UInt64 = 0
    private var listener: TCPListener?
    private var sweepTimer: LoopTimer?
    private var forceStopTimer: LoopTimer?
    private var signals: [LoopSignal] = []
    private var stopAsync: LoopAsync?
    private var shuttingDown = false
    let pingFrame = Connection.frame(.ping, [])
    let clientScript: [UInt8]

    /// Creates the server and its loop on the calling thread, which must also call `run()`.
    public init(configuration: ServerConfiguration, logger: Logger = Logger(label: "concord")) throws {
        self.configuration = configuration
        self.logger = logger
        loop = try EventLoop()
        epoch = Self.makeEpoch()
        clientScript = ClientScript.load()
    }

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
        let sweep = try LoopTimer(loop: loop)
        sweep.start(afterMilliseconds: configuration.pingIntervalMilliseconds,
                    repeatMilliseconds: configuration.pingIntervalMilliseconds) { [unowned self] in self.sweep() }
        sweepTimer = sweep
        stopAsync = try LoopAsync(loop: loop) { [unowned self] in self.shutdown() }
        return listener.port
    }

    /// Stops gracefully on SIGINT and SIGTERM.
    public func handleSignals() throws {
        for signal in [SIGINT, SIGTERM] {
            signals.append(try LoopSignal(loop: loop, signal: signal) { [unowned self] in
                self.logger.info("signal received, shutting down")
                self.shutdown()
            })
        }
    }

    /// Runs the loop until `shutdown()` completes, then releases the loop.
    public func run() {
        loop.run()
        loop.close()
    }

    /// Thread-safe request to shut down; `run()` returns once connections have closed.
    public func requestStop() {
        stopAsync?.send()
    }

    /// Stops accepting, closes every WebSocket with 1001, and lets the loop end once they are gone.
    func shutdown() {
        guard !shuttingDown else { return }
        shuttingDown = true
        listener?.close()
        sweepTimer?.close()
        stopAsync?.close()
        signals.forEach { $0.close() }
        signals = []
        for connection in connections.values {
            if connection.phase == .webSocket {
                connection.sendClose(code: 1001, reason: "server shutting down")
            } else {
                connection.stream.close()
            }
        }
        // A peer that never reads must not hold the shutdown hostage.
        if let timer = try? LoopTimer(loop: loop) {
            timer.start(afterMilliseconds: 2_000) { [unowned self] in
                self.connections.values.forEach { $0.stream.close() }
                self.forceStopTimer?.close()
            }
            timer.unref()
            forceStopTimer = timer
        }
    }

    private func accept(_ stream: TCPStream) {
        nextConnectionNumber += 1
        let connection = Connection(server: self, stream: stream, number: nextConnectionNumber)
        connections[ObjectIdentifier(connection)] = connection
        stream.delegate = connection
        stream.startReading()
    }

    func webSocketOpened(_ connection: Connection) {
        connection.isWebSocket = true
        webSocketCount += 1
        guard !configuration.echoOnly else { return }
        connection.sendText(ServerFrame.welcome(
            epoch: epoch, session: "c\(connection.number)", user: connection.user,
            maxMessageBytes: configuration.maxMessageBytes, maxSubscriptions: configuration.maxSubscriptions))
    }

    func connectionClosed(_ connection: Connection) {
        connections[ObjectIdentifier(connection)] = nil
        if connection.isWebSocket { webSocketCount -= 1 }
        registry.removeAll(of: connection)
    }

    /// Pings every WebSocket, drops those silent past the idle timeout, and ends stuck closes.
    private func sweep() {
        let now = loop.now
        for connection in connections.values {
            switch connection.phase {
            case .webSocket:
                if now - connection.lastActivity >= configuration.idleTimeoutMilliseconds {
                    logger.debug("dropping silent connection c\(connection.number)")
                    connection.stream.close()
                } else {
                    connection.stream.send(pingFrame)
                }
            case .http:
                if now - connection.lastActivity >= configuration.idleTimeoutMilliseconds { connection.stream.close() }
            case .closing:
                if now - connection.closingSince >= 2_000 { connection.stream.close() }
            }
        }
    }

    /// The wall clock, read here in the shell and handed to the core.
    func now() -> Timestamp {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Timestamp(milliseconds: Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000)
    }

    /// Publishes a validated event: numbers it, frames it once, and writes the same bytes to every
    /// connection with an admitting subscription.
    func publish(_ event: LiveEvent) -> UInt64 {
        let offset = registry.advanceOffset(of: event.channel)
        metrics.eventsPublished.increment()
        var frame: SharedBytes?
        var delivered: Int64 = 0
        registry.forEachRecipient(of: event) { connection in
            if frame == nil { frame = Connection.frame(.text, ServerFrame.event(event, offset: offset)) }
            if connection.deliver(frame!) { delivered += 1 }
        }
        if delivered > 0 { metrics.messagesOut.increment(by: delivered) }
        return offset
    }
}
