import ConcordUV
import Glibc

/// Drives one fan-out run on a single libuv loop: subscribe everyone, publish, wait for every
/// delivery or the timeout, and take the server's figures at the edges of the publish phase. With no
/// events the run is an idle one: everyone subscribes, then nothing happens for `idleSeconds`.
final class FanoutRun {
    private let plan: FanoutPlan
    private let loop: EventLoop
    private let tracker: DeliveryTracker
    private let pool: SubscriberPool
    private let publisher: Publisher
    private var report: FanoutReport
    private var timeout: LoopTimer?
    private var pacer: LoopTimer?
    private var idleTimer: LoopTimer?
    private var setupStart: UInt64 = 0
    private var publishStart: UInt64 = 0
    private var cpuAtStart: PhaseCPU.Start?
    private var finished = false
    /// Why the run stopped early (setup or publisher failure), reported with the figures.
    private(set) var abortReason: String?

    init(plan: FanoutPlan) throws {
        self.plan = plan
        loop = try EventLoop()
        tracker = DeliveryTracker(events: plan.events, channels: plan.channels, timeoutSeconds: plan.timeoutSeconds)
        pool = SubscriberPool(loop: loop, plan: plan, tracker: tracker)
        publisher = Publisher(plan: plan, tracker: tracker)
        report = FanoutReport(plan: plan)
    }

    func run() -> FanoutReport {
        report.serverRSSBeforeConnect = plan.serverPID.flatMap(ProcStats.residentBytes)
        report.nodes = plan.nodePorts.enumerated().map { index, port in
            let pid = index < plan.nodePIDs.count ? plan.nodePIDs[index] : nil
            return FanoutNode(port: port, pid: pid, rssBeforeConnect: pid.flatMap(ProcStats.residentBytes))
        }
        setupStart = MonotonicClock.nanoseconds()
        pool.onSetupComplete = { [unowned self] in self.setupComplete() }
        tracker.onEventComplete = { [unowned self] in self.eventComplete() }
        publisher.onBroken = { [unowned self] why in self.abort(why) }
        startTimeout(publishing: false)
        pool.open()
        loop.run()
        loop.close()
        return report
    }

    // MARK: Phases

    private func setupComplete() {
        report.setupSeconds = seconds(since: setupStart)
        report.subscribed = pool.ready
        report.setupFailures = pool.failed
        report.serverRSSAfterSubscribe = plan.serverPID.flatMap(ProcStats.residentBytes)
        for index in report.nodes.indices {
            report.nodes[index].subscribed = pool.readyPerNode[index]
            report.nodes[index].rssAfterSubscribe = report.nodes[index].pid.flatMap(ProcStats.residentBytes)
        }
        tracker.begin(recipients: pool.readyPerChannel)
        guard pool.ready > 0 else { return abort("no subscriber could subscribe: \(pool.firstFailure ?? "?")") }
        if plan.isIdle { return startIdling() }
        if plan.listenOnly { return startListening() }
        publisher.connect(loop: loop) { [unowned self] problem in
            if let problem { return self.abort(problem) }
            self.startPublishing()
        }
    }

    private func startPublishing() {
        startTimeout(publishing: true)
        cpuAtStart = PhaseCPU.Start(serverPID: plan.serverPID, processPIDs: plan.processPIDs)
        publishStart = MonotonicClock.nanoseconds()
        if plan.rate > 0 {
            startPacer()
        } else {
            fillWindow()
        }
    }

    /// Another generator publishes: say on stdout that everyone is subscribed (what it waits for),
    /// then count and time what arrives until every event has reached every subscriber.
    private func startListening() {
        print("listening: \(pool.ready) subscribed", terminator: "\n")
        fflush(stdout)
        startTimeout(publishing: true)
        cpuAtStart = PhaseCPU.Start(serverPID: plan.serverPID, processPIDs: plan.processPIDs)
        publishStart = MonotonicClock.nanoseconds()
    }

    /// Idle connections: their memory once the server has settled, and what the server spends
    /// keeping them (timers, pings) in the meantime.
    private func startIdling() {
        guard let timer = try? LoopTimer(loop: loop) else { return abort("cannot create the idle timer") }
        idleTimer = timer
        startTimeout(publishing: true)
        cpuAtStart = PhaseCPU.Start(serverPID: plan.serverPID)
        publishStart = MonotonicClock.nanoseconds()
        timer.start(afterMilliseconds: UInt64(plan.idleSeconds * 1000)) { [unowned self] in
            self.report.serverRSSAfterSubscribe = self.plan.serverPID.flatMap(ProcStats.residentBytes)
            self.finish(timedOut: false)
        }
    }

    /// Closed loop: keep `window` events on their way to the subscribers.
    private func fillWindow() {
        while publisher.hasMore && tracker.inFlight < plan.window { publisher.publishNext() }
    }

    /// Open loop: events go out on schedule whether or not earlier ones have arrived. The timer
    /// ticks every millisecond and sends whatever the schedule says is due.
    private func startPacer() {
        guard let timer = try? LoopTimer(loop: loop) else { return abort("cannot create the pacing timer") }
        pacer = timer
        timer.start(afterMilliseconds: 0, repeatMilliseconds: 1) { [unowned self] in
            let elapsed = Double(MonotonicClock.nanoseconds() - self.publishStart) / 1e9
            let due = min(self.plan.events, Int(elapsed * self.plan.rate) + 1)
            while self.publisher.nextSeq < due { self.publisher.publishNext() }
            if !self.publisher.hasMore { self.pacer?.close() }
        }
    }

    private func eventComplete() {
        if tracker.completed == plan.events {
            finish(timedOut: false)
        } else if plan.rate == 0 && !plan.listenOnly {
            fillWindow()
        }
    }

    /// The publish phase ends at the last delivery: the server's CPU is read before anything else.
    private func finish(timedOut: Bool) {
        guard !finished else { return }
        finished = true
        let end = MonotonicClock.nanoseconds()
        report.publishSeconds = publishStart > 0 ? Double(end - publishStart) / 1e9 : 0
        if let cpuAtStart { report.cpu = PhaseCPU(since: cpuAtStart, wallSeconds: report.publishSeconds) }
        let nodeDeliveries = pool.deliveriesPerNode()
        for index in report.nodes.indices {
            report.nodes[index].deliveries = nodeDeliveries[index]
            if index < plan.nodePIDs.count { report.nodes[index].cpuSeconds = report.cpu.processSeconds[index] }
        }
        if plan.redisPID != nil { report.redisCPUSeconds = report.cpu.processSeconds.last ?? nil }
        report.serverRSSAtEnd = plan.serverPID.flatMap(ProcStats.residentBytes)
        report.timedOut = timedOut
        if publishStart == 0 {
            // Stopped during setup: report how far it got.
            report.subscribed = pool.ready
            report.setupFailures = pool.failed
        }
        if timedOut || abortReason != nil { pool.recordShortfalls() }
        report.deliveries = tracker.deliveries
        report.subscriberReads = tracker.subscriberReads
        report.expectedDeliveries = pool.readyPerChannel.enumerated().reduce(0) { $0 + $1.element * plan.events(onChannel: $1.offset) }
        report.deliveredBytes = tracker.deliveredBytes
        report.latencyMicroseconds = tracker.latency
        report.errors = tracker.errors
        report.firstFailure = abortReason ?? pool.firstFailure
        tearDown()
    }

    private func abort(_ why: String) {
        guard !finished else { return }
        abortReason = why
        finish(timedOut: false)
    }

    /// Closes every handle so `loop.run()` returns.
    private func tearDown() {
        timeout?.close()
        pacer?.close()
        idleTimer?.close()
        tracker.onEventComplete = nil
        publisher.close()
        pool.closeAll()
    }

    /// One timer bounds setup, and is restarted to bound the publish phase.
    private func startTimeout(publishing: Bool) {
        timeout?.close()
        guard let timer = try? LoopTimer(loop: loop) else { return }
        timeout = timer
        timer.start(afterMilliseconds: UInt64(plan.timeoutSeconds) * 1000) { [unowned self] in
            if publishing {
                self.finish(timedOut: true)
            } else {
                self.abort("setup timed out after \(self.plan.timeoutSeconds) s with \(self.pool.ready) subscribed")
            }
        }
    }

    private func seconds(since start: UInt64) -> Double {
        Double(MonotonicClock.nanoseconds() - start) / 1e9
    }
}
