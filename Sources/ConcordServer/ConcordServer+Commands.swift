import ConcordCore

/// The WebSocket commands of protocol v1, carried out against the core.
extension ConcordServer {
    func handleMessage(_ payload: [UInt8], from connection: Connection) {
        let object: [String: JSONValue]
        switch JSONParsing.object(from: payload, "the message") {
        case .success(let parsed): object = parsed
        case .failure(let error): return connection.sendText(ServerFrame.error(id: nil, error))
        }
        let id = ClientCommand.correlationID(in: object)
        do {
            let command = try ClientCommand.decode(object)
            switch command {
            case .subscribe(let command):
                try auth.authorize(connection, .subscribe, on: command.channel)
                if command.idCount > configuration.maxSubscriptionIDs {
                    metrics.hit(.subscriptionIDs)
                    throw ProtocolError(.invalidFrame, "at most \(configuration.maxSubscriptionIDs) ids per subscription")
                }
                try hub.subscribe(
                    connection, name: command.sub.idString!, channel: command.channel,
                    filter: command.filter, limit: configuration.maxSubscriptions - connection.watchCount)
                broker.subscribe(command.channel) { result in
                    switch result {
                    case .success(let position):
                        connection.sendText(
                            ServerFrame.subscribed(
                                id: id, sub: command.sub, channel: command.channel, offset: position.offset, epoch: position.epoch))
                    case .failure(let failure):
                        connection.sendText(ServerFrame.error(id: id, ProtocolError(.unavailable, "cannot subscribe now: \(failure.reason)")))
                    }
                }
            case .unsubscribe(let sub):
                let (channel, stillSubscribed) = try hub.unsubscribe(connection, name: sub.idString!)
                if !stillSubscribed { broker.unsubscribe(channel) }
                connection.sendText(ServerFrame.unsubscribed(id: id, sub: sub))
            case .publish(let json):
                let event = try LiveEvent(json: json, now: now())
                try auth.authorize(connection, .publish, on: event.channel)
                try takeToken(
                    from: &connection.publishBucket, burst: configuration.publishBurst,
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
            case .ping:
                connection.sendText(ServerFrame.pong(id: id))
            case .auth(let token):
                try auth.refreshToken(token, id: id, for: connection)
            case .recordGet, .recordEdit, .recordStop, .recordCommit, .recordDelete:
                try recordCommands.handle(command, id: id, from: connection)
            case let other:
                try presenceCommands.handle(other, id: id, from: connection)
            }
        } catch let error as ProtocolError {
            if error.code == .tooManySubscriptions { metrics.hit(.subscriptions) }
            connection.sendText(ServerFrame.error(id: id, error))
        } catch {
            connection.sendText(ServerFrame.error(id: id, ProtocolError(.internal, "internal error")))
        }
        armDeadlines()
    }

    /// Takes one token from a rate limit's bucket, or refuses with `rate_limited` and counts the hit.
    func takeToken(from bucket: inout TokenBucket?, burst: Int, perSecond: Double, limit: Limit, what: String) throws(ProtocolError) {
        let now = ticks
        var current = bucket ?? TokenBucket(capacity: burst, perSecond: perSecond, now: now)
        defer { bucket = current }
        guard current.take(now: now) else {
            metrics.rateLimited.increment()
            metrics.hit(limit)
            throw ProtocolError(.rateLimited, "\(what) are limited to a burst of \(burst), then \(Self.rate(perSecond)) per second")
        }
    }

    static func rate(_ perSecond: Double) -> String {
        perSecond.rounded() == perSecond ? String(Int(perSecond)) : String(perSecond)
    }

    func requireUser(_ connection: Connection, _ feature: String) throws(ProtocolError) -> String {
        guard let user = connection.user else {
            throw ProtocolError(.anonymous, "\(feature) needs a user: connect with ?user= (development mode) or a token")
        }
        return user
    }
}
