import ConcordCodec
import ConcordCore

/// The endpoints of the server itself: health, metrics, the client script and its modules, and
/// the answer to `/v1/ws` without an upgrade.
enum ServerEndpoints {
    static func register(in router: HTTPRouter, server: ConcordServer) {
        router.add(.exact("/healthz"), now: get { [unowned server] _ in health(server) })
        router.add(.exact("/readyz"), now: get { [unowned server] _ in readiness(server) })
        router.add(.exact("/metrics"), now: get { [unowned server] _ in metrics(server) })
        router.add(.exact("/v1/client.js"), now: get { [unowned server] _ in ClientScript.response(server.clientScript) })
        router.add(.prefix(ClientScript.modulePrefix)) { request, answer in
            guard let module = ClientScript.module(at: request.path) else { return answer(.notFound(request)) }
            guard request.method == "GET" else { return answer(.methodNotAllowed("GET", request.path)) }
            answer(ClientScript.response(module))
        }
        router.add(
            .exact("/v1/ws"),
            now: { _ in
                .error(400, ProtocolError(.badRequest, "GET /v1/ws needs a WebSocket upgrade"), headers: [("Sec-WebSocket-Version", "13")])
            })
    }

    /// Only GET, else 405.
    private static func get(_ handler: @escaping (HTTPRequest) -> HTTPResponse) -> (HTTPRequest) -> HTTPResponse {
        { request in request.method == "GET" ? handler(request) : .methodNotAllowed("GET", request.path) }
    }

    private static func health(_ server: ConcordServer) -> HTTPResponse {
        .json(200) { w in
            w.raw("{\"status\":\"ok\",\"version\":"); w.string(ConcordServer.version)
            w.raw(",\"epoch\":"); w.string(server.epoch)
            w.raw(",\"connections\":"); w.int(Int64(server.connections.webSocketCount))
            w.raw("}")
        }
    }

    /// 200 when this node can serve everything; 503 with the reason while it cannot (Redis away,
    /// shutting down), so that a load balancer sends new clients elsewhere.
    private static func readiness(_ server: ConcordServer) -> HTTPResponse {
        let (ready, reason) = server.readiness
        return .json(ready ? 200 : 503) { w in
            w.raw("{\"ready\":"); w.raw(ready ? "true" : "false")
            if let reason { w.key("reason"); w.string(reason) }
            if let redis = server.redis { w.key("node"); w.string(redis.id) }
            w.raw("}")
        }
    }

    private static func metrics(_ server: ConcordServer) -> HTTPResponse {
        let metrics = server.metrics
        metrics.connections.set(Int64(server.connections.webSocketCount))
        metrics.subscriptions.set(Int64(server.hub.subscriptionCount))
        metrics.channels.set(Int64(server.hub.activeChannelCount))
        metrics.presenceMembers.set(Int64(server.presence.memberCount))
        metrics.typists.set(Int64(server.typing.count))
        let usage = server.broker.usage
        metrics.historyStreams.set(Int64(usage.streams))
        metrics.historyEvents.set(Int64(usage.historyEvents))
        metrics.historyBytes.set(Int64(usage.historyBytes))
        metrics.export(server.records.cache)
        return HTTPResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: metrics.render())
    }
}
