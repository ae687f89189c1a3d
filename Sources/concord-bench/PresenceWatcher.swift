import ConcordUV

/// A connection that watches the presence of every channel, so each join and leave is also pushed
/// to it: the fan-out side of presence.
final class PresenceWatcher: WebSocketClientDelegate {
    /// Where the watcher is in its setup.
    enum Phase {
        case awaitingWelcome, subscribing, watching, gone
    }

    private unowned let run: PresenceRun
    private unowned let tally: PresenceTally
    private let channels: [String]
    private var client: WebSocketClient?
    private(set) var phase = Phase.awaitingWelcome
    private var snapshotsLeft = 0
    private let commands: PresenceCommands

    init(run: PresenceRun, tally: PresenceTally, plan: PresencePlan) {
        self.run = run
        self.tally = tally
        channels = (0..<plan.channels).map(plan.channel)
        commands = PresenceCommands(typing: plan.typing)
    }

    func start(loop: EventLoop, host: String, port: Int) {
        let client = WebSocketClient(delegate: self)
        self.client = client
        // Watching needs no user: a watcher is anonymous, as a read-only page would be.
        client.start(loop: loop, host: host, port: port, path: ConcordTarget.webSocketPath)
    }

    func close() {
        phase = .gone
        client?.close()
    }

    // MARK: WebSocketClientDelegate

    func webSocketWillRead(_ client: WebSocketClient) {
        if phase == .watching { tally.watcherReads += 1 }
    }

    func webSocket(_ client: WebSocketClient, didReceiveText message: [UInt8]) {
        switch phase {
        case .watching where EventScanner.hasPrefix(message, commands.eventPrefix):
            tally.watcherEvent(join: EventScanner.contains(message, commands.joinMarker))
        case .watching:
            tally.unexpected(message)
        case .awaitingWelcome where EventScanner.contains(message, ConcordTarget.welcomeMarker):
            phase = .subscribing
            snapshotsLeft = channels.count
            for (number, channel) in channels.enumerated() {
                client.sendText(commands.subscribe(id: number + 1, channel: channel))
            }
        case .subscribing where EventScanner.contains(message, commands.snapshotMarker):
            snapshotsLeft -= 1
            if snapshotsLeft == 0 {
                phase = .watching
                run.watcherReady(self)
            }
        case .awaitingWelcome, .subscribing:
            // A refused watch (past --max-subscriptions, say) would leave this watcher deaf to a channel.
            fail("unexpected frame while subscribing: \(String(decoding: message.prefix(200), as: UTF8.self))")
        case .gone:
            break
        }
    }

    func webSocket(_ client: WebSocketClient, didFail why: String) {
        fail(why)
    }

    private func fail(_ why: String) {
        guard phase != .gone else { return }
        let wasWatching = phase == .watching
        phase = .gone
        client?.close()
        run.connectionFailed(why: why, wasSettled: wasWatching)
    }
}
