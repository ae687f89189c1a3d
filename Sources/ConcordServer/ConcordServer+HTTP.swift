import ConcordCodec
import ConcordCore

/// The HTTP endpoints: health, metrics, the client script, and the backend publish API.
extension ConcordServer {
    /// Answers a request, at once or (for commits, once durable) later; `answer` runs on the loop.
    func respond(to request: HTTPRequest, answer: @escaping (HTTPResponse) -> Void) {
        if request.method == "POST", request.path.hasPrefix("/v1/"), !request.hasMediaType("application/json") {
            return answer(.error(415, ProtocolError(.unsupportedMediaType, "send Content-Type: application/json")))
        }
        if request.path == "/v1/records" || request.path.hasPrefix("/v1/records/") {
            return respondRecords(to: request, answer: answer)
        }
        if request.path == DemoApp.prefix || request.path.hasPrefix(DemoApp.prefix + "/") {
            guard let demo else {
                return answer(.error(404, ProtocolError(.notFound, "the demo is off: start with --dev or --demo")))
            }
            return demo.respond(to: request, answer: answer)
        }
        if request.path.hasPrefix(Self.presencePrefix) {
            return respondPresence(to: request, answer: answer)
        }
        if request.path == "/v1/publish" && request.method == "POST" {
            return publishOverHTTP(request, answer: answer)
        }
        answer(respondNow(to: request))
    }

    private func respondNow(to request: HTTPRequest) -> HTTPResponse {
        if request.path.hasPrefix(ClientScript.modulePrefix) {
            guard let module = ClientScript.module(at: request.path) else {
                return .error(404, ProtocolError(.notFound, "no route for \(request.method) \(request.path)"))
            }
            guard request.method == "GET" else { return methodNotAllowed("GET", request.path) }
            return ClientScript.response(module)
        }
        switch request.path {
        case "/healthz":
            guard request.method == "GET" else { return methodNotAllowed("GET", request.path) }
            return .json(200) { w in
                w.raw("{\"status\":\"ok\",\"epoch\":"); w.string(epoch)
                w.raw(",\"connections\":"); w.int(Int64(connections.webSocketCount))
                w.raw("}")
            }
        case "/metrics":
            guard request.method == "GET" else { return methodNotAllowed("GET", request.path) }
            metrics.connections.set(Int64(connections.webSocketCount))
            metrics.subscriptions.set(Int64(hub.registry.subscriptionCount))
            metrics.channels.set(Int64(hub.registry.activeChannelCount))
            metrics.presenceMembers.set(Int64(presence.memberCount))
            metrics.typists.set(Int64(typing.count))
            metrics.export(records.cache)
            return HTTPResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: metrics.render())
        case "/v1/client.js":
            guard request.method == "GET" else { return methodNotAllowed("GET", request.path) }
            return ClientScript.response(clientScript)
        case "/v1/publish":
            return methodNotAllowed("POST", request.path)
        case "/v1/ws":
            return .error(
                400, ProtocolError(.badRequest, "GET /v1/ws needs a WebSocket upgrade"),
                headers: [("Sec-WebSocket-Version", "13")])
        default:
            return .error(404, ProtocolError(.notFound, "no route for \(request.method) \(request.path)"))
        }
    }

    private func methodNotAllowed(_ allowed: String, _ path: String) -> HTTPResponse {
        .error(405, ProtocolError(.methodNotAllowed, "use \(allowed) for \(path)"), headers: [("Allow", allowed)])
    }

    /// Validates the whole batch before publishing any of it: one invalid event publishes none.
    private func publishOverHTTP(_ request: HTTPRequest, answer: @escaping (HTTPResponse) -> Void) {
        switch validatedEvents(request) {
        case .refused(let response): answer(response)
        case .events(let events): publishAll(events, answer: answer)
        }
    }

    private enum Batch {
        case events([LiveEvent])
        case refused(HTTPResponse)
    }

    private func validatedEvents(_ request: HTTPRequest) -> Batch {
        guard auth.isAuthorizedBackend(request) else {
            return .refused(
                .error(
                    401, ProtocolError(.unauthorized, "missing or invalid API key"),
                    headers: [("WWW-Authenticate", "Bearer")]))
        }
        let body: JSONValue
        switch JSONParsing.parse(request.body) {
        case .success(let parsed): body = parsed
        case .failure(let failure): return .refused(.error(400, ProtocolError(.invalidJSON, "the body is not valid JSON: \(failure)")))
        }
        let raw: [JSONValue]
        switch body {
        case .array(let list): raw = list
        case .object(let object):
            if case .array(let list)? = object["events"] { raw = list } else { raw = [body] }
        default:
            return .refused(.error(400, ProtocolError(.invalidEvent, "body must be a LiveEvent, an array of them, or {\"events\": [...]}")))
        }
        guard raw.count <= 1000 else {
            return .refused(.error(400, ProtocolError(.invalidEvent, "at most 1000 events per request")))
        }
        var events: [LiveEvent] = []
        let now = now()
        for (i, item) in raw.enumerated() {
            do {
                guard case .object(let json) = item else {
                    throw ProtocolError(.invalidEvent, "event must be an object")
                }
                events.append(try LiveEvent(json: json, now: now))
            } catch let error as ProtocolError {
                let prefix = raw.count > 1 || body.objectValue?["events"] != nil ? "event \(i): " : ""
                return .refused(.error(400, ProtocolError(error.code, prefix + error.message)))
            } catch {
                return .refused(.error(500, ProtocolError(.internal, "internal error")))
            }
        }
        return .events(events)
    }

    /// Publishes in order and answers once the broker has numbered every event. A batch the broker
    /// refuses part of is answered 503, naming how many went through.
    private func publishAll(_ events: [LiveEvent], answer: @escaping (HTTPResponse) -> Void) {
        let gather = Gather<Result<StreamPosition, BrokerFailure>>(count: events.count) { results in
            var offsets: [UInt64] = []
            var failure: BrokerFailure?
            for result in results {
                switch result {
                case .success(let position): offsets.append(position.offset)
                case .failure(let refused): failure = failure ?? refused
                }
            }
            if let failure {
                return answer(.error(503, ProtocolError(.unavailable, "\(offsets.count) of \(events.count) events were published: \(failure.reason)")))
            }
            answer(
                .json(200) { w in
                    w.raw("{\"results\":[")
                    for (i, event) in events.enumerated() {
                        if i > 0 { w.raw(",") }
                        w.raw("{\"channel\":"); w.string(event.channel)
                        w.raw(",\"offset\":"); w.int(Int64(offsets[i]))
                        w.raw("}")
                    }
                    w.raw("]}")
                })
        }
        for (i, event) in events.enumerated() {
            publish(event) { gather.arrived($0, at: i) }
        }
    }
}

/// Compares secrets without leaking where they differ through timing.
func constantTimeEquals(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    var difference = UInt8(x.count == y.count ? 0 : 1)
    for i in 0..<max(x.count, y.count) {
        difference |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
    }
    return difference == 0
}
