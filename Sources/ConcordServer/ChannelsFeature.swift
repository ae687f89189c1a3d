import ConcordCodec
import ConcordCore

/// The channels feature: `subscribe`, `unsubscribe` and `publish` over WebSocket, and
/// `POST /v1/publish` for backends. Keeps no state of its own: the hub holds who subscribes here,
/// each session counts its subscriptions, the broker numbers events.
final class ChannelsFeature {
    private unowned let server: ConcordServer

    init(server: ConcordServer) {
        self.server = server
    }

    private var configuration: ServerConfiguration { server.configuration }
    private var hub: Hub { server.hub }
    private var broker: any Broker { server.broker }

    func subscribe(_ command: ClientCommand.Subscribe, id: JSONValue?, from connection: Connection) throws(ProtocolError) {
        try server.auth.authorize(connection, .subscribe, on: command.channel)
        if command.idCount > configuration.maxSubscriptionIDs {
            server.metrics.hit(.subscriptionIDs)
            throw ProtocolError(.invalidFrame, "at most \(configuration.maxSubscriptionIDs) ids per subscription")
        }
        if hub.hasSubscription(connection, name: command.sub.idString!) {
            throw ProtocolError(.duplicateSubscription, "subscription \"\(command.sub.idString!)\" already exists")
        }
        try connection.session.checkRoom()
        try hub.subscribe(connection, sub: command.sub, channel: command.channel, filter: command.filter, coalesce: command.coalesce)
        connection.session.channelSubscribed()
        broker.subscribe(command.channel, since: command.since) { [unowned self] result in
            switch result {
            case .success(let subscription):
                let recovery = subscription.recovery.map { Self.filtered($0, command.filter) }
                // A coalescing subscription gets what it missed merged, one event per type.
                var replay: [[UInt8]] = []
                if case .recovered(let events)? = recovery {
                    if command.coalesce != nil {
                        let merged = Coalescer<Int>.merge(events.compactMap { entry in entry.event.map { ($0, entry.offset) } })
                        replay = merged.map { ServerFrame.event($0.event, offset: $0.offset) }
                    } else {
                        replay = events.map(\.frame)
                    }
                }
                connection.sendText(
                    ServerFrame.subscribed(
                        id: id, sub: command.sub, channel: command.channel, position: subscription.position, recovery: recovery,
                        replayed: replay.count))
                // What was missed goes out before any live event: the broker answers before it
                // delivers anything published after the position it reports.
                for frame in replay { connection.sendText(ServerFrame.replayed(frame, sub: command.sub)) }
                switch recovery {
                case .recovered(let events)?:
                    server.metrics.recoveries.increment()
                    server.metrics.eventsReplayed.increment(by: Int64(events.count))
                case .failed?:
                    server.metrics.recoveriesFailed.increment()
                case nil:
                    break
                }
            case .failure(let failure):
                // Refused: the subscription is not kept, so the client may try again under its name.
                if server.isOpen(connection) { _ = try? unsubscribe(command.sub, from: connection) }
                connection.sendText(ServerFrame.error(id: id, ProtocolError(.unavailable, "cannot subscribe now: \(failure.reason)")))
            }
        }
    }

    /// The recovery as this subscription sees it: only the events its filter admits are replayed.
    private static func filtered(_ recovery: Recovery, _ filter: SubscriptionFilter) -> Recovery {
        guard case .recovered(let events) = recovery else { return recovery }
        return .recovered(events.filter { filter.admits(type: $0.type, ids: $0.ids) })
    }

    func unsubscribe(_ sub: JSONValue, id: JSONValue?, from connection: Connection) throws(ProtocolError) {
        try unsubscribe(sub, from: connection)
        connection.sendText(ServerFrame.unsubscribed(id: id, sub: sub))
    }

    private func unsubscribe(_ sub: JSONValue, from connection: Connection) throws(ProtocolError) {
        let (channel, stillSubscribed) = try hub.unsubscribe(connection, name: sub.idString!)
        connection.session.channelUnsubscribed()
        if !stillSubscribed { broker.unsubscribe(channel) }
    }

    func publish(_ json: [String: JSONValue], id: JSONValue?, from connection: Connection) throws(ProtocolError) {
        let event = try LiveEvent(json: json, now: server.now())
        try server.auth.authorize(connection, .publish, on: event.channel)
        try server.takeToken(
            from: &connection.session.publishBucket, burst: configuration.publishBurst,
            perSecond: configuration.publishPerSecond, limit: .publishRate, what: "publishes")
        // The broker answers before it delivers, so the publisher sees its ack before its own event.
        publish(event) { result in
            switch result {
            case .success(let position):
                connection.sendText(ServerFrame.published(id: id, channel: event.channel, offset: position.offset))
            case .failure(let failure):
                connection.sendText(ServerFrame.error(id: id, ProtocolError(.unavailable, "cannot publish now: \(failure.reason)")))
            }
        }
    }

    /// Publishes a validated event through the broker, which numbers it; `done` gets its position
    /// before the event reaches this node's subscribers. Every publisher ends here: clients,
    /// backends, accepted commits, the demo.
    func publish(_ event: LiveEvent, done: @escaping (Result<StreamPosition, BrokerFailure>) -> Void = { _ in }) {
        server.metrics.eventsPublished.increment()
        broker.publish(event, at: server.now(), done: done)
    }

    /// A connection closed: its subscriptions go, and the broker hears of channels no one here
    /// subscribes to any more.
    func connectionClosed(_ connection: Connection) {
        for channel in hub.removeAll(connection) { broker.unsubscribe(channel) }
    }

    // MARK: GET /v1/history

    /// A channel's kept history, for backends and debugging: `?channel=C[&since=N&epoch=E][&limit=N]`.
    func historyOverHTTP(_ request: HTTPRequest, answer: @escaping (HTTPResponse) -> Void) {
        guard request.method == "GET" else { return answer(.methodNotAllowed("GET", request.path)) }
        guard server.auth.isAuthorizedBackend(request) else { return answer(.missingAPIKey) }
        guard let channel = request.query["channel"] else {
            return answer(.error(400, ProtocolError(.invalidFrame, "name the channel: ?channel=CHANNEL")))
        }
        if let error = ChannelName.validate(channel) { return answer(.error(400, error)) }
        var since: StreamPosition?
        switch (request.query["since"], request.query["epoch"]) {
        case (nil, nil): break
        case (let offset?, let epoch?):
            guard let offset = UInt64(offset), !epoch.isEmpty else {
                return answer(.error(400, ProtocolError(.invalidFrame, "since must be a non-negative integer and epoch a non-empty string")))
            }
            since = StreamPosition(offset: offset, epoch: epoch)
        default:
            return answer(.error(400, ProtocolError(.invalidFrame, "since and epoch go together: a position is an offset in an epoch")))
        }
        var limit = ServerConfiguration.maxHistoryPage
        if let text = request.query["limit"] {
            guard let asked = Int(text), asked >= 0 else {
                return answer(.error(400, ProtocolError(.invalidFrame, "limit must be a non-negative integer")))
            }
            limit = min(asked, limit)
        }
        broker.history(channel, since: since, limit: limit) { result in
            switch result {
            case .failure(let failure):
                answer(.error(503, ProtocolError(.unavailable, "cannot read history now: \(failure.reason)")))
            case .success(let page):
                answer(
                    .json(200) { w in
                        w.raw("{\"channel\":"); w.string(channel)
                        w.raw(",\"epoch\":"); w.string(page.position.epoch)
                        w.raw(",\"offset\":"); w.int(Int64(page.position.offset))
                        if since != nil { w.raw(page.complete ? ",\"complete\":true" : ",\"complete\":false") }
                        w.raw(",\"events\":[")
                        for (i, entry) in page.events.enumerated() {
                            if i > 0 { w.raw(",") }
                            w.rawBytes(entry.frame)
                        }
                        w.raw("]}")
                    })
            }
        }
    }

    // MARK: POST /v1/publish

    /// Validates the whole batch before publishing any of it: one invalid event publishes none.
    func publishOverHTTP(_ request: HTTPRequest, answer: @escaping (HTTPResponse) -> Void) {
        guard request.method == "POST" else { return answer(.methodNotAllowed("POST", request.path)) }
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
        guard server.auth.isAuthorizedBackend(request) else {
            return .refused(.missingAPIKey)
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
        let now = server.now()
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
