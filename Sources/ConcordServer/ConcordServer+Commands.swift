import ConcordCore

/// The WebSocket commands of protocol v1, carried out against the core.
extension ConcordServer {
    func handleMessage(_ payload: [UInt8], from connection: Connection) {
        guard let object = JSONParsing.object(from: payload) else {
            return connection.sendText(ServerFrame.error(id: nil, ProtocolError(.invalidJSON, "message is not a JSON object")))
        }
        let id = ClientCommand.correlationID(in: object)
        do {
            let command = try ClientCommand.decode(object)
            switch command {
            case .subscribe(let command):
                let offset = try registry.subscribe(
                    connection, name: command.sub.idString!, channel: command.channel,
                    filter: command.filter, limit: configuration.maxSubscriptions - connection.watchCount)
                connection.sendText(ServerFrame.subscribed(
                    id: id, sub: command.sub, channel: command.channel, offset: offset, epoch: epoch))
            case .unsubscribe(let sub):
                try registry.unsubscribe(connection, name: sub.idString!)
                connection.sendText(ServerFrame.unsubscribed(id: id, sub: sub))
            case .publish(let json):
                let event = try LiveEvent(json: json, now: now())
                guard configuration.clientPublish.contains(where: { $0.matches(event.channel) }) else {
                    throw ProtocolError(.forbidden, "clients may not publish on \(event.channel)")
                }
                // The reply goes first, so the publisher sees its ack before its own event.
                let offset = registry.lastOffset(of: event.channel) + 1
                connection.sendText(ServerFrame.published(id: id, channel: event.channel, offset: offset))
                _ = publish(event)
            case .ping:
                connection.sendText(ServerFrame.pong(id: id))
            case .recordGet, .recordEdit, .recordStop, .recordCommit, .recordDelete:
                try handleRecord(command, id: id, from: connection)
            case let other:
                try handlePresenceOrTyping(other, id: id, from: connection)
            }
        } catch let error as ProtocolError {
            connection.sendText(ServerFrame.error(id: id, error))
        } catch {
            connection.sendText(ServerFrame.error(id: id, ProtocolError(.internal, "internal error")))
        }
        armDeadlines()
    }
}
