import ConcordUV
import Glibc

/// Drives one presence run on a single libuv loop: connect the users and watchers, enter everyone
/// (the memory a member costs), then churn (the CPU an operation costs), reading the server's
/// figures from /proc at the edges of each phase.
final class PresenceRun {
    /// The phase of the whole run, which says what a completed tally or a timeout means.
    private enum Stage {
        case connecting, entering, churning, killed, finished
    }

    private let plan: PresencePlan
    private let loop: EventLoop
    private let tally: PresenceTally
    private var users: [PresenceUser] = []
    private var watchers: [PresenceWatcher] = []
    private var throttle: ConnectThrottle!
    private var report: PresenceReport
    private var stage = Stage.connecting
    private var timeout: LoopTimer?
    private var phaseStart: UInt64 = 0
    private var cpuAtStart: PhaseCPU.Start?
    private var firstFailure: String?
    /// Why the run stopped early (a lost connection, a timeout before the churn), reported with the figures.
    private(set) var abortReason: String?

    init(plan: PresencePlan) throws {
        self.plan = plan
        loop = try EventLoop()
        tally = PresenceTally(timeoutSeconds: plan.timeoutSeconds)
        report = PresenceReport(plan: plan)
        users.reserveCapacity(plan.connections)
        watchers.reserveCapacity(plan.watchers)
    }

    func run() -> PresenceReport {
        report.serverRSSBeforeConnect = serverRSS()
        phaseStart = MonotonicClock.nanoseconds()
        tally.onPhaseComplete = { [unowned self] in self.phaseComplete() }
        throttle = ConnectThrottle(total: plan.connections + plan.watchers, concurrency: plan.connectConcurrency) { [unowned self] index in
            self.open(index)
        }
        throttle.onAllSettled = { [unowned self] in self.connected() }
        restartTimeout()
        throttle.pump()
        loop.run()
        loop.close()
        return report
    }

    // MARK: Connections

    private func open(_ index: Int) {
        if index < plan.connections {
            let user = PresenceUser(run: self, tally: tally, index: index, plan: plan)
            users.append(user)
            user.start(loop: loop, host: plan.host, port: plan.userPort(index))
        } else {
            let watcher = PresenceWatcher(run: self, tally: tally, plan: plan)
            watchers.append(watcher)
            watcher.start(loop: loop, host: plan.host, port: plan.watcherPort(index - plan.connections))
        }
    }

    func userReady(_ user: PresenceUser) {
        report.connectedUsers += 1
        throttle.settled()
    }

    func watcherReady(_ watcher: PresenceWatcher) {
        report.watching += 1
        throttle.settled()
    }

    /// Every member and watcher is needed for the counts to add up, so a loss after setup ends the run.
    func connectionFailed(why: String, wasSettled: Bool) {
        // The killed node's users lose their connections: that is the point.
        if stage == .killed || stage == .finished { return }
        guard stage == .connecting else { return abort("connection lost: \(why)") }
        if firstFailure == nil { firstFailure = why }
        report.setupFailures += 1
        if !wasSettled { throttle.settled() }
    }

    // MARK: Phases

    private func connected() {
        report.setupSeconds = seconds(since: phaseStart)
        guard report.setupFailures == 0 else {
            return abort("\(report.setupFailures) of \(plan.connections + plan.watchers) connections failed: \(firstFailure ?? "?")")
        }
        report.serverRSSConnected = serverRSS()
        stage = .entering
        restartTimeout()
        phaseStart = MonotonicClock.nanoseconds()
        tally.begin(replies: plan.members, watcherEvents: plan.watchers * plan.members, timed: false)
        for user in users { user.enterAll() }
    }

    private func phaseComplete() {
        switch stage {
        case .entering:
            report.enterSeconds = seconds(since: phaseStart)
            report.serverRSSEntered = serverRSS()
            if plan.killPID != nil { killNode() } else { startChurn() }
        case .churning:
            finish(timedOut: false)
        case .killed:
            report.killToLastLeaveSeconds = seconds(since: phaseStart)
            finish(timedOut: false)
        case .connecting, .finished:
            break
        }
    }

    private func startChurn() {
        stage = .churning
        restartTimeout()
        tally.begin(replies: plan.ops, watcherEvents: plan.watchers * plan.ops, timed: true)
        cpuAtStart = PhaseCPU.Start(serverPID: plan.serverPID, processPIDs: plan.processPIDs)
        phaseStart = MonotonicClock.nanoseconds()
        for user in users { user.churn(plan.opsShare(ofConnection: user.index)) }
    }

    /// Kills the users' node without warning; the phase ends when every watcher has seen every
    /// member leave, which only the surviving nodes' reaping of the dead node's lease can announce.
    private func killNode() {
        guard let pid = plan.killPID else { return }
        stage = .killed
        restartTimeout()
        tally.onWatcherEvent = { [unowned self] in
            if self.report.killToFirstLeaveSeconds == nil { self.report.killToFirstLeaveSeconds = self.seconds(since: self.phaseStart) }
        }
        tally.begin(replies: 0, watcherEvents: plan.watchers * plan.members, timed: false)
        phaseStart = MonotonicClock.nanoseconds()
        guard kill(pid, SIGKILL) == 0 else { return abort("kill -9 \(pid) failed (errno \(errno))") }
    }

    /// The churn ends at the last reply and push: the server's CPU is read before anything else.
    private func finish(timedOut: Bool) {
        guard stage != .finished else { return }
        let churned = stage == .churning
        let killed = stage == .killed
        stage = .finished
        if churned, let cpuAtStart {
            report.churnSeconds = seconds(since: phaseStart)
            report.cpu = PhaseCPU(since: cpuAtStart, wallSeconds: report.churnSeconds)
            report.opsDone = tally.replies
            report.watcherEvents = tally.watcherEvents
            report.watcherJoins = tally.joins
            report.watcherLeaves = tally.leaves
            report.userReads = tally.userReads
            report.watcherReads = tally.watcherReads
            report.latencyMicroseconds = tally.latency
            report.processCPUSeconds = report.cpu.processSeconds
        }
        if killed {
            report.watcherLeaves = tally.leaves
            report.watcherEvents = tally.watcherEvents
        }
        report.serverRSSAtEnd = serverRSS()
        report.timedOut = timedOut
        report.errors = tally.errors
        report.firstFailure = abortReason ?? tally.firstError
        tearDown()
    }

    private func abort(_ why: String) {
        guard stage != .finished else { return }
        abortReason = why
        finish(timedOut: false)
    }

    /// Closes every handle so `loop.run()` returns.
    private func tearDown() {
        timeout?.close()
        tally.onPhaseComplete = nil
        for user in users { user.close() }
        for watcher in watchers { watcher.close() }
    }

    /// One timer bounds each phase; a churn that runs out of time still reports what it did.
    private func restartTimeout() {
        timeout?.close()
        guard let timer = try? LoopTimer(loop: loop) else { return }
        timeout = timer
        timer.start(afterMilliseconds: UInt64(plan.timeoutSeconds) * 1000) { [unowned self] in
            switch self.stage {
            case .connecting:
                self.abort(
                    "setup timed out after \(self.plan.timeoutSeconds) s with \(self.report.connectedUsers) users and \(self.report.watching) watchers ready")
            case .entering:
                self.abort(
                    "entering timed out after \(self.plan.timeoutSeconds) s with \(self.tally.replies) of \(self.plan.members) replies and \(self.tally.watcherEvents) watcher pushes"
                )
            case .churning, .killed:
                self.finish(timedOut: true)
            case .finished:
                break
            }
        }
    }

    private func serverRSS() -> Int? { plan.serverPID.flatMap(ProcStats.residentBytes) }

    private func seconds(since start: UInt64) -> Double {
        Double(MonotonicClock.nanoseconds() - start) / 1e9
    }
}
