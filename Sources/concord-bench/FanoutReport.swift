import Histogram

/// The figures of one fan-out run, printed as a readable block and optionally as one JSON line.
struct FanoutReport {
    var plan: FanoutPlan
    var subscribed = 0
    var setupFailures = 0
    var setupSeconds = 0.0
    var deliveries = 0
    var expectedDeliveries = 0
    var subscriberReads = 0
    var deliveredBytes = 0
    var publishSeconds = 0.0
    var timedOut = false
    var latencyMicroseconds: Histogram<UInt64>?
    var errors = DeliveryTracker.Errors()
    var firstFailure: String?
    /// CPU of the publish phase.
    var cpu = PhaseCPU()
    var serverRSSBeforeConnect: Int?
    var serverRSSAfterSubscribe: Int?
    var serverRSSAtEnd: Int?
    /// Several nodes: each node's subscribers, deliveries, CPU and memory (one entry for a single node).
    var nodes: [FanoutNode] = []
    /// CPU of the shared Redis over the publish phase.
    var redisCPUSeconds: Double?

    /// Redis CPU per published event.
    var redisCPUMicrosecondsPerPublish: Double? {
        guard let redisCPUSeconds, plan.events > 0, !plan.listenOnly else { return nil }
        return redisCPUSeconds * 1e6 / Double(plan.events)
    }

    /// Whether to print the per-node lines: more than one node, or node processes given.
    private var showsNodes: Bool { nodes.count > 1 || !plan.nodePIDs.isEmpty }

    var deliveriesPerRead: Double? { subscriberReads > 0 ? Double(deliveries) / Double(subscriberReads) : nil }

    /// Average message size as delivered (Concord's event frame wraps the published body).
    var bytesPerDelivery: Double? { deliveries > 0 ? Double(deliveredBytes) / Double(deliveries) : nil }

    var deliveriesPerSecond: Double { publishSeconds > 0 ? Double(deliveries) / publishSeconds : 0 }

    var serverCPUMicrosecondsPerDelivery: Double? {
        guard let seconds = cpu.serverSeconds, deliveries > 0 else { return nil }
        return seconds * 1e6 / Double(deliveries)
    }

    var rssPerConnection: Double? {
        guard let before = serverRSSBeforeConnect, let after = serverRSSAfterSubscribe, subscribed > 0 else { return nil }
        return Double(after - before) / Double(subscribed)
    }

    /// Latency percentile in milliseconds.
    func latency(_ percentile: Double) -> Double? {
        ReportFormat.milliseconds(latencyMicroseconds, percentile: percentile)
    }

    var text: String {
        var block = ReportFormat.Block()
        func line(_ label: String, _ value: String) { block.line(label, value) }
        line("server", plan.server.rawValue)
        line(
            "subscribers",
            "\(subscribed) subscribed of \(plan.subscribers) on \(plan.channels) channel\(plan.channels == 1 ? "" : "s") (setup \(fixed(setupSeconds, 2)) s)")
        if plan.isIdle {
            line("events", "none: idle for \(fixed(plan.idleSeconds, 1)) s")
        } else {
            line(
                "events",
                "\(plan.events) x ~\(plan.payloadBytes) B, "
                    + (plan.listenOnly ? "published elsewhere" : plan.rate > 0 ? "rate \(fixed(plan.rate, 0))/s" : "window \(plan.window)")
                    + ", delivered as ~\(bytesPerDelivery.map { fixed($0, 0) } ?? "-") B")
        }
        line("deliveries", "\(deliveries) of \(expectedDeliveries)" + (timedOut ? " (TIMED OUT)" : ""))
        line("publish phase", "\(fixed(publishSeconds, 3)) s")
        line("deliveries/s", fixed(deliveriesPerSecond, 0))
        line("deliveries per subscriber read", deliveriesPerRead.map { fixed($0, 2) } ?? "-")
        line("latency p50/p90/p99/max", [50.0, 90, 99, 100].map { latency($0).map { fixed($0, 2) } ?? "-" }.joined(separator: " / ") + " ms")
        line(
            "errors",
            "\(errors.total)"
                + (errors.total > 0
                    ? " (missing \(errors.missing), out of order \(errors.outOfOrder), malformed \(errors.malformed), server errors \(errors.serverErrors), disconnects \(errors.disconnects), publish failures \(errors.publishFailures))"
                    : ""))
        if setupFailures > 0 { line("setup failures", "\(setupFailures)") }
        if let firstFailure { line("first failure", firstFailure) }
        line(plan.isIdle ? "server CPU (idle phase)" : "server CPU (publish phase)", cpu.serverSeconds.map { "\(fixed($0, 2)) s" } ?? "- (no --server-pid)")
        line("server CPU per delivery", serverCPUMicrosecondsPerDelivery.map { "\(fixed($0, 3)) µs" } ?? "-")
        line(plan.isIdle ? "generator CPU (idle phase)" : "generator CPU (publish phase)", "\(fixed(cpu.generatorSeconds, 2)) s")
        line(plan.isIdle ? "machine busy CPU (idle phase)" : "machine busy CPU (publish phase)", cpu.machineText(wallSeconds: publishSeconds))
        line(
            "server RSS before/subscribed/end",
            [serverRSSBeforeConnect, serverRSSAfterSubscribe, serverRSSAtEnd].map { $0.map { mebibytes($0) } ?? "-" }.joined(separator: " / "))
        line("server RSS per connection", rssPerConnection.map { "\(fixed($0 / 1024, 2)) KiB" } ?? "-")
        if showsNodes {
            for (index, node) in nodes.enumerated() { line("node \(index + 1) (port \(node.port))", node.text) }
        }
        if let redisCPUSeconds {
            line("Redis CPU", "\(fixed(redisCPUSeconds, 2)) s" + (redisCPUMicrosecondsPerPublish.map { ", \(fixed($0, 1)) µs per publish" } ?? ""))
        }
        return block.text
    }

    /// One JSON object; numbers that could not be measured are null.
    var json: String {
        var fields: [(String, String)] = [
            ("server", jsonString(plan.server.rawValue)),
            ("subscribers", "\(plan.subscribers)"), ("subscribed", "\(subscribed)"), ("channels", "\(plan.channels)"),
            ("idle_seconds", plan.isIdle ? number(plan.idleSeconds) : "null"),
            ("events", "\(plan.events)"), ("payload_bytes", "\(plan.payloadBytes)"),
            ("rate", number(plan.rate)), ("window", "\(plan.window)"),
            ("setup_seconds", number(setupSeconds)),
            ("deliveries", "\(deliveries)"), ("expected_deliveries", "\(expectedDeliveries)"),
            ("timed_out", timedOut ? "true" : "false"),
            ("publish_seconds", number(publishSeconds)), ("deliveries_per_second", number(deliveriesPerSecond)),
            ("deliveries_per_read", number(deliveriesPerRead)), ("bytes_per_delivery", number(bytesPerDelivery)),
            ("latency_p50_ms", number(latency(50))), ("latency_p90_ms", number(latency(90))),
            ("latency_p99_ms", number(latency(99))), ("latency_max_ms", number(latency(100))),
            ("errors", "\(errors.total)"), ("missing", "\(errors.missing)"), ("out_of_order", "\(errors.outOfOrder)"),
            ("malformed", "\(errors.malformed)"), ("server_errors", "\(errors.serverErrors)"),
            ("disconnects", "\(errors.disconnects)"), ("publish_failures", "\(errors.publishFailures)"),
            ("setup_failures", "\(setupFailures)"),
            ("server_cpu_seconds", number(cpu.serverSeconds)),
            ("server_cpu_us_per_delivery", number(serverCPUMicrosecondsPerDelivery)),
            ("generator_cpu_seconds", number(cpu.generatorSeconds)),
            ("machine_busy_cpu_seconds", number(cpu.machineBusySeconds)),
            ("machine_softirq_cpu_seconds", number(cpu.machineSoftirqSeconds)),
            ("server_rss_before_bytes", number(serverRSSBeforeConnect.map(Double.init))),
            ("server_rss_subscribed_bytes", number(serverRSSAfterSubscribe.map(Double.init))),
            ("server_rss_end_bytes", number(serverRSSAtEnd.map(Double.init))),
            ("server_rss_per_connection_bytes", number(rssPerConnection)),
            ("listen_only", plan.listenOnly ? "true" : "false"),
            ("nodes", "[" + (showsNodes ? nodes.map(\.json).joined(separator: ",") : "") + "]"),
            ("redis_cpu_seconds", number(redisCPUSeconds)),
            ("redis_cpu_us_per_publish", number(redisCPUMicrosecondsPerPublish)),
        ]
        if let firstFailure { fields.append(("first_failure", jsonString(firstFailure))) }
        return ReportFormat.jsonObject(fields)
    }

    private func fixed(_ value: Double, _ digits: Int) -> String { ReportFormat.fixed(value, digits) }
    private func number(_ value: Double?) -> String { ReportFormat.number(value) }
    private func mebibytes(_ bytes: Int) -> String { ReportFormat.mebibytes(bytes) }
    private func jsonString(_ text: String) -> String { ReportFormat.jsonString(text) }
}
