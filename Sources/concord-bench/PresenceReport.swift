import Histogram

/// The figures of one presence run, printed as a readable block and optionally as one JSON line.
struct PresenceReport {
    var plan: PresencePlan
    var connectedUsers = 0
    var watching = 0
    var setupFailures = 0
    var setupSeconds = 0.0
    var enterSeconds = 0.0
    var churnSeconds = 0.0
    var opsDone = 0
    var watcherEvents = 0
    var watcherJoins = 0
    var watcherLeaves = 0
    var userReads = 0
    var watcherReads = 0
    var timedOut = false
    var latencyMicroseconds: Histogram<UInt64>?
    var errors = PresenceTally.Errors()
    var firstFailure: String?
    /// CPU of the churn phase.
    var cpu = PhaseCPU()
    var serverRSSBeforeConnect: Int?
    var serverRSSConnected: Int?
    var serverRSSEntered: Int?
    var serverRSSAtEnd: Int?
    /// CPU over the churn of every node and then Redis (`plan.processPIDs`), in that order.
    var processCPUSeconds: [Double?] = []
    /// With `plan.killPID`: from the kill -9 to the first and to the last leave a watcher saw.
    var killToFirstLeaveSeconds: Double?
    var killToLastLeaveSeconds: Double?

    /// Each node's CPU over the churn, per operation made anywhere.
    var nodeCPUMicrosecondsPerOp: [Double?] {
        plan.nodePIDs.indices.map { index in
            guard index < processCPUSeconds.count, let seconds = processCPUSeconds[index], opsDone > 0 else { return nil }
            return seconds * 1e6 / Double(opsDone)
        }
    }

    var redisCPUMicrosecondsPerOp: Double? {
        guard plan.redisPID != nil, let seconds = processCPUSeconds.last ?? nil, opsDone > 0 else { return nil }
        return seconds * 1e6 / Double(opsDone)
    }

    var opsPerSecond: Double { churnSeconds > 0 ? Double(opsDone) / churnSeconds : 0 }

    var serverCPUMicrosecondsPerOp: Double? {
        guard let seconds = cpu.serverSeconds, opsDone > 0 else { return nil }
        return seconds * 1e6 / Double(opsDone)
    }

    /// Replies per socket read of a user connection: how many replies each server write carried.
    var repliesPerRead: Double? { userReads > 0 ? Double(opsDone) / Double(userReads) : nil }

    var watcherEventsPerRead: Double? { watcherReads > 0 ? Double(watcherEvents) / Double(watcherReads) : nil }

    /// What an open WebSocket costs before it holds any presence (watchers include their watches).
    var rssPerConnection: Double? {
        guard let before = serverRSSBeforeConnect, let after = serverRSSConnected, connectedUsers + watching > 0 else { return nil }
        return Double(after - before) / Double(connectedUsers + watching)
    }

    /// What one presence entry costs: the step from connected to entered, over the members.
    var rssPerMember: Double? {
        guard let before = serverRSSConnected, let after = serverRSSEntered, plan.members > 0 else { return nil }
        return Double(after - before) / Double(plan.members)
    }

    func latency(_ percentile: Double) -> Double? {
        ReportFormat.milliseconds(latencyMicroseconds, percentile: percentile)
    }

    var text: String {
        var block = ReportFormat.Block()
        block.line(
            "connections", "\(connectedUsers) users + \(watching) watchers of \(plan.connections) + \(plan.watchers) (setup \(fixed(setupSeconds, 2)) s)")
        block.line(
            plan.typing ? "typing" : "presence",
            "\(plan.members) \(plan.typing ? "typists" : "members") in \(plan.channels) channels (\(plan.channelsPerConnection) per connection), entered in \(fixed(enterSeconds, 2)) s"
        )
        block.line("churn ops", "\(opsDone) of \(plan.ops), window \(plan.window) per connection" + (timedOut ? " (TIMED OUT)" : ""))
        block.line("churn phase", "\(fixed(churnSeconds, 3)) s")
        block.line("ops/s", fixed(opsPerSecond, 0))
        block.line("replies per user read", repliesPerRead.map { fixed($0, 2) } ?? "-")
        if plan.watchers > 0 {
            block.line(
                "watcher pushes",
                "\(watcherEvents) of \(plan.ops * plan.watchers) (joins \(watcherJoins), leaves \(watcherLeaves)), \(watcherEventsPerRead.map { fixed($0, 1) } ?? "-") per read"
            )
        }
        block.line("reply latency p50/p90/p99/max", [50.0, 90, 99, 100].map { latency($0).map { fixed($0, 2) } ?? "-" }.joined(separator: " / ") + " ms")
        block.line(
            "errors",
            "\(errors.total)"
                + (errors.total > 0 ? " (server errors \(errors.serverErrors), out of order \(errors.outOfOrder), unexpected \(errors.unexpected))" : ""))
        if setupFailures > 0 { block.line("setup failures", "\(setupFailures)") }
        if let firstFailure { block.line("first failure", firstFailure) }
        block.line("server CPU (churn phase)", cpu.serverSeconds.map { "\(fixed($0, 2)) s" } ?? "- (no --server-pid)")
        block.line("server CPU per op", serverCPUMicrosecondsPerOp.map { "\(fixed($0, 3)) µs" } ?? "-")
        block.line("generator CPU (churn phase)", "\(fixed(cpu.generatorSeconds, 2)) s")
        block.line("machine busy CPU (churn phase)", cpu.machineText(wallSeconds: churnSeconds))
        block.line(
            "server RSS before/conn./entered/end",
            [serverRSSBeforeConnect, serverRSSConnected, serverRSSEntered, serverRSSAtEnd]
                .map { $0.map(ReportFormat.mebibytes) ?? "-" }.joined(separator: " / "))
        block.line("server RSS per connection", rssPerConnection.map { "\(fixed($0 / 1024, 2)) KiB" } ?? "-")
        block.line("server RSS per member", rssPerMember.map { "\(fixed($0, 0)) B" } ?? "-")
        for (index, pid) in plan.nodePIDs.enumerated() {
            let seconds = index < processCPUSeconds.count ? processCPUSeconds[index] : nil
            block.line(
                "node \(index + 1) CPU (pid \(pid))",
                (seconds.map { "\(fixed($0, 2)) s" } ?? "-") + ", " + (nodeCPUMicrosecondsPerOp[index].map { "\(fixed($0, 2)) µs per op" } ?? "-"))
        }
        if plan.redisPID != nil {
            block.line(
                "Redis CPU (churn phase)",
                ((processCPUSeconds.last ?? nil).map { "\(fixed($0, 2)) s" } ?? "-") + ", "
                    + (redisCPUMicrosecondsPerOp.map { "\(fixed($0, 2)) µs per op" } ?? "-"))
        }
        if let pid = plan.killPID {
            block.line(
                "kill -9 \(pid)",
                "\(watcherLeaves) of \(plan.watchers * plan.members) leaves seen; first after "
                    + (killToFirstLeaveSeconds.map { "\(fixed($0, 3)) s" } ?? "-") + ", last after "
                    + (killToLastLeaveSeconds.map { "\(fixed($0, 3)) s" } ?? "- (not all seen)"))
        }
        return block.text
    }

    /// One JSON object; numbers that could not be measured are null.
    var json: String {
        let number = ReportFormat.number
        var fields: [(String, String)] = [
            ("mode", plan.typing ? "\"typing\"" : "\"presence\""),
            ("connections", "\(plan.connections)"), ("watchers", "\(plan.watchers)"), ("channels", "\(plan.channels)"),
            ("channels_per_connection", "\(plan.channelsPerConnection)"), ("members", "\(plan.members)"),
            ("ops", "\(plan.ops)"), ("window", "\(plan.window)"),
            ("connected", "\(connectedUsers)"), ("watching", "\(watching)"), ("setup_failures", "\(setupFailures)"),
            ("setup_seconds", number(setupSeconds)), ("enter_seconds", number(enterSeconds)),
            ("ops_done", "\(opsDone)"), ("timed_out", timedOut ? "true" : "false"),
            ("churn_seconds", number(churnSeconds)), ("ops_per_second", number(opsPerSecond)),
            ("replies_per_read", number(repliesPerRead)),
            ("watcher_events", "\(watcherEvents)"), ("expected_watcher_events", "\(plan.ops * plan.watchers)"),
            ("watcher_events_per_read", number(watcherEventsPerRead)),
            ("latency_p50_ms", number(latency(50))), ("latency_p90_ms", number(latency(90))),
            ("latency_p99_ms", number(latency(99))), ("latency_max_ms", number(latency(100))),
            ("errors", "\(errors.total)"), ("server_errors", "\(errors.serverErrors)"),
            ("out_of_order", "\(errors.outOfOrder)"), ("unexpected", "\(errors.unexpected)"),
            ("server_cpu_seconds", number(cpu.serverSeconds)),
            ("server_cpu_us_per_op", number(serverCPUMicrosecondsPerOp)),
            ("generator_cpu_seconds", number(cpu.generatorSeconds)),
            ("machine_busy_cpu_seconds", number(cpu.machineBusySeconds)),
            ("machine_softirq_cpu_seconds", number(cpu.machineSoftirqSeconds)),
            ("server_rss_before_bytes", number(serverRSSBeforeConnect.map(Double.init))),
            ("server_rss_connected_bytes", number(serverRSSConnected.map(Double.init))),
            ("server_rss_entered_bytes", number(serverRSSEntered.map(Double.init))),
            ("server_rss_end_bytes", number(serverRSSAtEnd.map(Double.init))),
            ("server_rss_per_connection_bytes", number(rssPerConnection)),
            ("server_rss_per_member_bytes", number(rssPerMember)),
            (
                "node_cpu_seconds",
                "[" + plan.nodePIDs.indices.map { number($0 < processCPUSeconds.count ? processCPUSeconds[$0] : nil) }.joined(separator: ",") + "]"
            ),
            ("node_cpu_us_per_op", "[" + nodeCPUMicrosecondsPerOp.map(number).joined(separator: ",") + "]"),
            ("redis_cpu_us_per_op", number(redisCPUMicrosecondsPerOp)),
            ("kill_to_first_leave_seconds", number(killToFirstLeaveSeconds)),
            ("kill_to_last_leave_seconds", number(killToLastLeaveSeconds)),
            ("leaves_seen", "\(watcherLeaves)"),
        ]
        if let firstFailure { fields.append(("first_failure", ReportFormat.jsonString(firstFailure))) }
        return ReportFormat.jsonObject(fields)
    }

    private func fixed(_ value: Double, _ digits: Int) -> String { ReportFormat.fixed(value, digits) }
}
