/// One node of a fan-out run over several nodes: the subscribers connected to it, the deliveries
/// they read, and the node's CPU over the publish phase and memory per connection.
struct FanoutNode {
    let port: Int
    let pid: Int32?
    var subscribed = 0
    var deliveries = 0
    var cpuSeconds: Double?
    var rssBeforeConnect: Int?
    var rssAfterSubscribe: Int?

    /// The node's CPU per delivery it made to its own subscribers: a node that receives the publish
    /// pays for it too, so compare it with a single node's figure, not with the other node's.
    var cpuMicrosecondsPerDelivery: Double? {
        guard let cpuSeconds, deliveries > 0 else { return nil }
        return cpuSeconds * 1e6 / Double(deliveries)
    }

    var rssPerConnection: Double? {
        guard let before = rssBeforeConnect, let after = rssAfterSubscribe, subscribed > 0 else { return nil }
        return Double(after - before) / Double(subscribed)
    }

    /// One line of the readable report.
    var text: String {
        "\(subscribed) subscribed, \(deliveries) deliveries, CPU "
            + (cpuSeconds.map { "\(ReportFormat.fixed($0, 2)) s" } ?? "-") + ", "
            + (cpuMicrosecondsPerDelivery.map { "\(ReportFormat.fixed($0, 3)) µs per delivery" } ?? "- per delivery") + ", RSS "
            + (rssPerConnection.map { "\(ReportFormat.fixed($0 / 1024, 2)) KiB" } ?? "-") + " per connection"
    }

    /// One JSON object; numbers that could not be measured are null.
    var json: String {
        let number = ReportFormat.number
        return ReportFormat.jsonObject([
            ("port", "\(port)"), ("pid", pid.map { "\($0)" } ?? "null"),
            ("subscribed", "\(subscribed)"), ("deliveries", "\(deliveries)"),
            ("cpu_seconds", number(cpuSeconds)), ("cpu_us_per_delivery", number(cpuMicrosecondsPerDelivery)),
            ("rss_before_bytes", number(rssBeforeConnect.map(Double.init))),
            ("rss_subscribed_bytes", number(rssAfterSubscribe.map(Double.init))),
            ("rss_per_connection_bytes", number(rssPerConnection)),
        ])
    }
}
