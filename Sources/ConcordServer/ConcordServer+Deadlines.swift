import ConcordCore
import ConcordUV

/// Every deadline of the server behind one loop timer: connection liveness, presence TTLs and typing
/// TTLs, each kept in an `ExpiryQueue` so a tick costs time only for what comes due.
extension ConcordServer {
    func scheduleHeartbeat(_ connection: Connection, at deadline: Int64) {
        heartbeats.schedule(connection, at: deadline)
        armDeadlines()
    }

    func closingStarted(_ connection: Connection, graceMilliseconds: UInt64) {
        // A peer that never reads must not keep a closing connection forever.
        scheduleHeartbeat(connection, at: Int64(loop.now + graceMilliseconds))
    }

    /// Re-arms the one timer at the end of this loop turn: however many commands a turn handles,
    /// the queues are consulted once.
    func armDeadlines() {
        guard !deadlinesArmPending else { return }
        deadlinesArmPending = true
        loop.atTurnEnd { [unowned self] in
            deadlinesArmPending = false
            armDeadlinesNow()
        }
    }

    /// Arms the one timer at the earliest deadline of all the queues.
    private func armDeadlinesNow() {
        guard let timer = deadlineTimer else { return }
        let next = [heartbeats.nextDeadline(), tokenDeadlines.nextDeadline(), presence.nextDeadline, typing.nextDeadline].compactMap { $0 }.min()
        guard next != armedDeadline else { return }
        armedDeadline = next
        guard let next else { return timer.stop() }
        let delay = max(0, next - Int64(loop.now))
        timer.start(afterMilliseconds: UInt64(delay)) { [unowned self] in self.deadlinesDue() }
    }

    private func deadlinesDue() {
        armedDeadline = nil
        let now = Int64(loop.now)
        for connection in heartbeats.popExpired(now: now) { checkLiveness(connection, now: now) }
        for connection in tokenDeadlines.popExpired(now: now) { tokenDeadlineDue(connection) }
        presence.tick(now: now)
        typing.tick(now: now)
        armDeadlines()
    }

    /// Liveness is checked lazily: reads only record the time, and the deadline, when it comes,
    /// asks the liveness rules whether to ping, wait longer, or drop the connection.
    private func checkLiveness(_ connection: Connection, now: Int64) {
        let rules = Liveness(
            pingInterval: Int64(configuration.pingIntervalMilliseconds),
            idleTimeout: Int64(configuration.idleTimeoutMilliseconds))
        switch rules.check(connection.livenessPhase, lastActivity: Int64(connection.lastActivity), now: now) {
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
