import ConcordCore
import ConcordUV

/// Connection liveness and the server's deadline queues, behind the one `DeadlineScheduler` timer.
extension ConcordServer {
    func scheduleHeartbeat(_ connection: Connection, at deadline: Int64) {
        heartbeats.schedule(connection, at: deadline)
        armDeadlines()
    }

    func closingStarted(_ connection: Connection, graceMilliseconds: UInt64) {
        // A peer that never reads must not keep a closing connection forever.
        scheduleHeartbeat(connection, at: ticks + Int64(graceMilliseconds))
    }

    /// Re-arms the one deadline timer at the end of this loop turn.
    func armDeadlines() {
        deadlines.arm()
    }

    /// Puts the server's deadline queues behind the one timer.
    func registerDeadlines() {
        deadlines.add(next: { [unowned self] in heartbeats.nextDeadline() }) { [unowned self] now in
            for connection in heartbeats.popExpired(now: now) { checkLiveness(connection, now: now) }
        }
        deadlines.add(next: { [unowned self] in auth.nextTokenCheck() }) { [unowned self] now in auth.tokenChecksDue(now: now) }
        deadlines.add(next: { [unowned self] in presence.nextDeadline }) { [unowned self] now in presence.tick(now: now) }
        deadlines.add(next: { [unowned self] in typing.nextDeadline }) { [unowned self] now in typing.tick(now: now) }
    }

    /// Liveness is checked lazily: reads only record the time, and the deadline, when it comes,
    /// asks the liveness rules whether to ping, wait longer, or drop the connection.
    private func checkLiveness(_ connection: Connection, now: Int64) {
        let rules = Liveness(
            pingInterval: Int64(configuration.pingIntervalMilliseconds),
            idleTimeout: Int64(configuration.idleTimeoutMilliseconds))
        switch rules.check(connection.livenessPhase, lastActivity: connection.lastActivity, now: now) {
        case .wait(let until):
            heartbeats.schedule(connection, at: until)
        case .ping(let next):
            connection.stream.send(pingFrame)
            heartbeats.schedule(connection, at: next)
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
