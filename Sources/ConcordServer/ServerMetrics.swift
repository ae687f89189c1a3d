import ConcordCore
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
    let presenceMembers: Gauge
    let typists: Gauge
    let rateLimited: Counter
    /// One counter per limit, all created at start so that each shows 0 until it is hit.
    private let limitHits: [Limit: Counter]
    /// Connections refused at the upgrade for their token or origin.
    let authFailures: Counter
    let tokenRefreshes: Counter
    let tokenExpiries: Counter
    let historyStreams: Gauge
    let historyEvents: Gauge
    let historyBytes: Gauge
    let recoveries: Counter
    let recoveriesFailed: Counter
    let streamResets: Counter
    let eventsReplayed: Counter
    let recordCacheEntries: Gauge
    let recordCacheCapacity: Gauge
    let recordCacheHits: Counter
    let recordCacheMisses: Counter
    let recordCacheEvictions: Counter
    /// The cache counts for itself; what `/metrics` showed last, to add only the difference.
    private var exportedCache = RecordCache.Statistics()

    init() {
        connections = registry.makeGauge(
            descriptor: .init(namespace: "concord", metricName: "connections", unitName: "", helpText: "Open WebSocket connections"))
        subscriptions = registry.makeGauge(
            descriptor: .init(namespace: "concord", metricName: "subscriptions", unitName: "", helpText: "Subscriptions held by all connections"))
        channels = registry.makeGauge(
            descriptor: .init(namespace: "concord", metricName: "channels", unitName: "", helpText: "Channels with at least one subscription"))
        messagesIn = registry.makeCounter(
            descriptor: .init(namespace: "concord", metricName: "messages_in", unitName: "total", helpText: "WebSocket messages received"))
        messagesOut = registry.makeCounter(
            descriptor: .init(namespace: "concord", metricName: "messages_out", unitName: "total", helpText: "WebSocket messages sent, one per delivery"))
        eventsPublished = registry.makeCounter(
            descriptor: .init(namespace: "concord", metricName: "events_published", unitName: "total", helpText: "Events published over HTTP and WebSocket"))
        httpRequests = registry.makeCounter(
            descriptor: .init(namespace: "concord", metricName: "http_requests", unitName: "total", helpText: "HTTP requests answered"))
        slowConsumers = registry.makeCounter(
            descriptor: .init(
                namespace: "concord", metricName: "slow_consumers", unitName: "total", helpText: "Connections closed with 4008 for falling behind"))
        protocolErrors = registry.makeCounter(
            descriptor: .init(
                namespace: "concord", metricName: "protocol_errors", unitName: "total", helpText: "Connections closed for a WebSocket protocol violation"))

        presenceMembers = registry.makeGauge(
            descriptor: .init(namespace: "concord", metricName: "presence_members", unitName: "", helpText: "Presence members across all channels"))
        typists = registry.makeGauge(descriptor: .init(namespace: "concord", metricName: "typing", unitName: "", helpText: "Users typing across all channels"))
        rateLimited = registry.makeCounter(
            descriptor: .init(namespace: "concord", metricName: "rate_limited", unitName: "total", helpText: "Signals dropped by a rate limit"))
        let limitDescriptor = MetricNameDescriptor(
            namespace: "concord", metricName: "limit_hits", unitName: "total", helpText: "Requests, messages and connections refused or closed by a limit")
        var hits: [Limit: Counter] = [:]
        for limit in Limit.allCases { hits[limit] = registry.makeCounter(descriptor: limitDescriptor, labels: [("limit", limit.rawValue)]) }
        limitHits = hits
        authFailures = registry.makeCounter(
            descriptor: .init(
                namespace: "concord", metricName: "auth_failures", unitName: "total",
                helpText: "Upgrades and refreshes refused for a missing or invalid token, or a foreign origin"))
        tokenRefreshes = registry.makeCounter(
            descriptor: .init(namespace: "concord", metricName: "token_refreshes", unitName: "total", helpText: "Tokens replaced over an open connection"))
        tokenExpiries = registry.makeCounter(
            descriptor: .init(
                namespace: "concord", metricName: "token_expiries", unitName: "total", helpText: "Connections closed with 4001 because their token expired"))
        historyStreams = registry.makeGauge(
            descriptor: .init(namespace: "concord", metricName: "streams", unitName: "", helpText: "Channel streams this node knows (position and epoch)"))
        historyEvents = registry.makeGauge(
            descriptor: .init(namespace: "concord", metricName: "history_events", unitName: "", helpText: "Events kept in history for recovery"))
        historyBytes = registry.makeGauge(
            descriptor: .init(namespace: "concord", metricName: "history_bytes", unitName: "", helpText: "Memory the kept history takes, in bytes"))
        recoveries = registry.makeCounter(
            descriptor: .init(
                namespace: "concord", metricName: "recoveries", unitName: "total", helpText: "Subscriptions that recovered every event they missed"))
        recoveriesFailed = registry.makeCounter(
            descriptor: .init(
                namespace: "concord", metricName: "recoveries_failed", unitName: "total",
                helpText: "Subscriptions told to refetch: what they missed was not all kept"))
        streamResets = registry.makeCounter(
            descriptor: .init(
                namespace: "concord", metricName: "stream_resets", unitName: "total",
                helpText: "Streams that moved on without this node (Redis lost events or restarted empty): their subscribers were asked to recover"))
        eventsReplayed = registry.makeCounter(
            descriptor: .init(namespace: "concord", metricName: "events_replayed", unitName: "total", helpText: "Events sent again to recovering subscriptions")
        )
        recordCacheEntries = registry.makeGauge(
            descriptor: .init(namespace: "concord", metricName: "record_cache_entries", unitName: "", helpText: "Records held in memory"))
        recordCacheCapacity = registry.makeGauge(
            descriptor: .init(namespace: "concord", metricName: "record_cache_capacity", unitName: "", helpText: "Records the cache keeps (--record-cache)"))
        recordCacheHits = registry.makeCounter(
            descriptor: .init(namespace: "concord", metricName: "record_cache_hits", unitName: "total", helpText: "Record commands served from memory"))
        recordCacheMisses = registry.makeCounter(
            descriptor: .init(namespace: "concord", metricName: "record_cache_misses", unitName: "total", helpText: "Record commands that waited for the store")
        )
        recordCacheEvictions = registry.makeCounter(
            descriptor: .init(
                namespace: "concord", metricName: "record_cache_evictions", unitName: "total",
                helpText: "Records dropped from memory to stay within the cache size"))
    }

    /// Brings the record cache's figures up to date before a scrape.
    func export(_ cache: RecordCache) {
        let now = cache.statistics
        recordCacheHits.increment(by: Int64(now.hits - exportedCache.hits))
        recordCacheMisses.increment(by: Int64(now.misses - exportedCache.misses))
        recordCacheEvictions.increment(by: Int64(now.evictions - exportedCache.evictions))
        exportedCache = now
        recordCacheEntries.set(Int64(cache.count))
        recordCacheCapacity.set(Int64(cache.capacity))
    }

    func hit(_ limit: Limit) {
        limitHits[limit]!.increment()
    }

    func render() -> [UInt8] {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}
