import ConcordUV

/// One user's connection: enters presence in its channels, then churns (leave, enter, leave, ...)
/// with a window of commands in flight, checking and timing every reply.
final class PresenceUser: WebSocketClientDelegate {
    /// Where the connection is in the run.
    enum Phase {
        case awaitingWelcome
        /// Welcomed, nothing sent yet.
        case idle
        /// Entering (phase 1) or churning (phase 2): every text frame should be a reply.
        case busy
        case gone
    }

    private unowned let run: PresenceRun
    private unowned let tally: PresenceTally
    let index: Int
    private let channels: [String]
    private let info: String
    private var client: WebSocketClient?
    private(set) var phase = Phase.awaitingWelcome
    /// Send times of the commands in flight, by id modulo the capacity; the server answers one
    /// connection's commands in order, so the oldest id in flight is the next reply's.
    private var sentAt: [UInt64]
    private var nextID = 1
    private var oldestInFlight = 1
    private var readTime: UInt64 = 0
    /// Churn operations this connection still has to send, and how many it has sent.
    private var churnLeft = 0
    private var churnSent = 0
    private let window: Int
    private let commands: PresenceCommands

    init(run: PresenceRun, tally: PresenceTally, index: Int, plan: PresencePlan) {
        self.run = run
        self.tally = tally
        self.index = index
        channels = plan.channels(ofConnection: index)
        info = ConcordTarget.presenceInfo(user: index)
        window = plan.window
        commands = PresenceCommands(typing: plan.typing)
        sentAt = Array(repeating: 0, count: max(plan.window, plan.channelsPerConnection))
    }

    func start(loop: EventLoop, host: String, port: Int) {
        let client = WebSocketClient(delegate: self)
        self.client = client
        client.start(loop: loop, host: host, port: port, path: ConcordTarget.webSocketPath(user: "u\(index)"))
    }

    func close() {
        phase = .gone
        client?.close()
    }

    /// Phase 1: enters every channel of this connection at once.
    func enterAll() {
        guard phase == .idle else { return }
        phase = .busy
        for channel in channels { send(commands.enter(id: nextID, channel: channel, info: info)) }
    }

    /// Phase 2: `count` operations, alternately leaving and re-entering each channel in turn.
    func churn(_ count: Int) {
        guard phase == .idle || phase == .busy else { return }
        phase = .busy
        churnLeft = count
        fillWindow()
    }

    private var inFlight: Int { nextID - oldestInFlight }

    private func fillWindow() {
        while churnLeft > 0 && inFlight < window {
            // Operation k leaves channel (k/2) mod n when k is even and enters it again when odd, so
            // each leave finds the connection present and each enter finds it absent.
            let channel = channels[(churnSent / 2) % channels.count]
            send(
                churnSent % 2 == 0
                    ? commands.leave(id: nextID, channel: channel)
                    : commands.enter(id: nextID, channel: channel, info: info))
            churnSent += 1
            churnLeft -= 1
        }
    }

    private func send(_ command: [UInt8]) {
        sentAt[nextID % sentAt.count] = MonotonicClock.nanoseconds()
        nextID += 1
        client?.sendText(command)
    }

    // MARK: WebSocketClientDelegate

    func webSocketWillRead(_ client: WebSocketClient) {
        readTime = MonotonicClock.nanoseconds()
        if phase == .busy { tally.userReads += 1 }
    }

    func webSocket(_ client: WebSocketClient, didReceiveText message: [UInt8]) {
        switch phase {
        case .busy:
            if EventScanner.contains(message, ConcordTarget.errorMarker) {
                // An error still answers its command: it carries the command's id.
                tally.serverError(message)
            } else if !EventScanner.contains(message, commands.leftMarker) && !EventScanner.contains(message, commands.enteredMarker) {
                return tally.unexpected(message)
            }
            answered(id: EventScanner.integer(after: ConcordTarget.idKey, in: message), message)
        case .awaitingWelcome where EventScanner.contains(message, ConcordTarget.welcomeMarker):
            phase = .idle
            run.userReady(self)
        case .awaitingWelcome:
            fail("unexpected frame before welcome: \(String(decoding: message.prefix(200), as: UTF8.self))")
        case .idle:
            tally.unexpected(message)
        case .gone:
            break
        }
    }

    func webSocket(_ client: WebSocketClient, didFail why: String) {
        fail(why)
    }

    /// A reply (or error) to the oldest command in flight.
    private func answered(id: Int?, _ message: [UInt8]) {
        guard inFlight > 0 else { return tally.unexpected(message) }
        if id != oldestInFlight { tally.errors.outOfOrder += 1 }
        let latency = readTime &- sentAt[oldestInFlight % sentAt.count]
        oldestInFlight += 1
        tally.reply(latencyNanoseconds: latency)
        fillWindow()
    }

    private func fail(_ why: String) {
        guard phase != .gone else { return }
        let wasWelcomed = phase != .awaitingWelcome
        phase = .gone
        client?.close()
        run.connectionFailed(why: why, wasSettled: wasWelcomed)
    }
}
