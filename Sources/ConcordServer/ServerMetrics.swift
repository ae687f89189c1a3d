import Prometheus

/// The counters and gauges behind `GET /metrics`, named as `protocol/README.md` lists them.
final class ServerMetrics {
    let registry = PrometheusCollectorRegistry()
    let connections: Gauge
    let subscriptions: Gauge
    let channels: Gauge
    let messagesIn: Counter
    let messagesOut: Counter
    let eventsPublished: Counter
    let httpRequests: Counter
    let slowConsumers: Counter
    let protocolErrors: Counter

    init() {
        connections = registry.makeGauge(name: "concord_connections", help: "Open WebSocket connections")
        subscriptions = registry.makeGauge(name: "concord_subscriptions", help: "Subscriptions held by all connections")
        channels = registry.makeGauge(name: "concord_channels", help: "Channels with at least one subscription")
        messagesIn = registry.makeCounter(name: "concord_messages_in_total", help: "WebSocket messages received")
        messagesOut = registry.makeCounter(name: "concord_messages_out_total", help: "WebSocket messages sent, one per delivery")
        eventsPublished = registry.makeCounter(name: "concord_events_published_total", help: "Events published over HTTP and WebSocket")
        httpRequests = registry.makeCounter(name: "concord_http_requests_total", help: "HTTP requests answered")
        slowConsumers = registry.makeCounter(name: "concord_slow_consumers_total", help: "Connections closed with 4008 for falling behind")
        protocolErrors = registry.makeCounter(name: "concord_protocol_errors_total", help: "Connections closed for a WebSocket protocol violation")
    }

    func render() -> [UInt8] {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}
