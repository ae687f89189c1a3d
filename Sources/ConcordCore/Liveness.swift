/// Whether a connection is alive, decided from the last time it sent anything: the server pings a
/// silent WebSocket, drops one silent for the idle timeout, closes an HTTP connection whose request
/// is late, and ends a close its peer does not finish.
///
/// A state machine on an injected clock: the shell records activity and asks `check` when the
/// connection's deadline comes, then carries out the action (a ping, a close) and schedules the
/// next check. Times are the loop's monotonic milliseconds.
public struct Liveness: Sendable {
    /// A connection silent this long is pinged (`--ping-interval`).
    public let pingInterval: Int64
    /// A connection silent this long is dropped (`--idle-timeout`).
    public let idleTimeout: Int64

    public init(pingInterval: Int64, idleTimeout: Int64) {
        self.pingInterval = pingInterval
        self.idleTimeout = idleTimeout
    }

    /// What the connection is doing, as far as liveness goes.
    public enum Phase: Equatable, Sendable {
        /// Reading HTTP requests; the one being read must be whole by the deadline, when there is one.
        case http(requestDeadline: Int64?)
        case webSocket
        /// A Server-Sent Events stream: the client never writes, so silence says nothing; it gets
        /// a heartbeat every ping interval, and a dead peer shows when writes back up.
        case eventStream
        /// Closing: it had until the check that comes now to finish.
        case closing
    }

    public enum Action: Equatable, Sendable {
        /// Alive: check again at the time given.
        case wait(until: Int64)
        /// Silent for the ping interval: send a WebSocket ping, then check again at the time given.
        case ping(thenCheckAt: Int64)
        /// Gone: close the TCP connection, for the reason given.
        case drop(Reason)
    }

    public enum Reason: Equatable, Sendable {
        /// The HTTP request was not whole by its deadline (a slow client, or a slow-loris attack).
        case requestTimeout
        /// Nothing at all, not even a pong, for the idle timeout.
        case idle
        /// A close the peer did not complete in time.
        case closeTimeout
    }

    /// What the time `now` calls for, for a connection that last sent a byte at `lastActivity`.
    public func check(_ phase: Phase, lastActivity: Int64, now: Int64) -> Action {
        let silence = now - lastActivity
        switch phase {
        case .closing:
            return .drop(.closeTimeout)
        case .http(let deadline):
            if let deadline, now >= deadline { return .drop(.requestTimeout) }
            if silence >= idleTimeout { return .drop(.idle) }
            return .wait(until: min(lastActivity + idleTimeout, deadline ?? .max))
        case .eventStream:
            return .ping(thenCheckAt: now + pingInterval)
        case .webSocket:
            if silence >= idleTimeout { return .drop(.idle) }
            if silence >= pingInterval { return .ping(thenCheckAt: min(lastActivity + idleTimeout, now + pingInterval)) }
            return .wait(until: lastActivity + pingInterval)
        }
    }
}
