import ConcordCore
import ConcordUV
import Logging

/// Each connection's next liveness check (ping, drop, or end a stuck close), in one queue behind
/// the `DeadlineScheduler`. Reads only record the time on the connection; when a check comes due
/// the `Liveness` rules decide.
final class LivenessMonitor {
    private var checks = ExpiryQueue<Connection>()
    private let rules: Liveness
    private let pingFrame = Connection.frame(.ping, [])
    /// An event stream's heartbeat: a comment line, which EventSource ignores.
    private let heartbeat = SharedBytes(Array(": ping\n\n".utf8))
    private let metrics: ServerMetrics
    private let logger: Logger

    init(configuration: ServerConfiguration, metrics: ServerMetrics, logger: Logger) {
        rules = Liveness(
            pingInterval: Int64(configuration.pingIntervalMilliseconds),
            idleTimeout: Int64(configuration.idleTimeoutMilliseconds))
        self.metrics = metrics
        self.logger = logger
    }

    var nextDeadline: Int64? { checks.nextDeadline() }

    func schedule(_ connection: Connection, at deadline: Int64) {
        checks.schedule(connection, at: deadline)
    }

    func cancel(_ connection: Connection) {
        checks.cancel(connection)
    }

    func tick(now: Int64) {
        for connection in checks.popExpired(now: now) { check(connection, now: now) }
    }

    private func check(_ connection: Connection, now: Int64) {
        switch rules.check(connection.livenessPhase, lastActivity: connection.lastActivity, now: now) {
        case .wait(let until):
            checks.schedule(connection, at: until)
        case .ping(let next):
            connection.stream.send(connection.phase == .eventStream ? heartbeat : pingFrame)
            checks.schedule(connection, at: next)
        case .drop(let reason):
            switch reason {
            case .requestTimeout:
                metrics.hit(.handshakeTimeout)
            case .idle where connection.phase == .webSocket:
                metrics.hit(.idleTimeout)
                logger.debug("dropping silent connection c\(connection.number)")
            case .idle, .closeTimeout:
                break
            }
            connection.stream.close()
        }
    }
}
