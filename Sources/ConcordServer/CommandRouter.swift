import ConcordCodec
import ConcordCore

/// Concord's protocol v1 over WebSocket: admits an upgrade (`AuthFeature`), greets the session,
/// and hands each command to its feature. Keeps no state: sessions hold theirs, features theirs.
final class CommandRouter: WebSocketApplication {
    private unowned let server: ConcordServer

    init(server: ConcordServer) {
        self.server = server
    }

    private var configuration: ServerConfiguration { server.configuration }
    var maxMessageBytes: Int { configuration.maxMessageBytes }

    func admit(_ request: HTTPRequest) -> Admission {
        guard request.path == "/v1/ws" else {
            return .refused(.error(404, ProtocolError(.notFound, "no WebSocket endpoint at \(request.path)")))
        }
        return server.auth.admit(request)
    }

    func opened(_ connection: Connection) {
        server.auth.scheduleTokenDeadline(connection)
        let session = connection.session
        connection.sendText(
            ServerFrame.welcome(
                epoch: server.epoch, session: session.id.description, user: session.user,
                expiresAt: session.principal.expiresAt, maxMessageBytes: configuration.maxMessageBytes,
                maxSubscriptions: configuration.maxSubscriptions, typingTTLMilliseconds: configuration.typingTTLMilliseconds))
    }

    func received(binary: [UInt8], from connection: Connection) {
        server.metrics.protocolErrors.increment()
        connection.sendClose(code: 1008, reason: "binary messages are not part of protocol v1")
    }

    func received(text payload: [UInt8], from connection: Connection) {
        let object: [String: JSONValue]
        switch JSONParsing.object(from: payload, "the message") {
        case .success(let parsed): object = parsed
        case .failure(let error): return connection.sendText(ServerFrame.error(id: nil, error))
        }
        let id = ClientCommand.correlationID(in: object)
        do throws(ProtocolError) {
            let command = try ClientCommand.decode(object)
            switch command {
            case .subscribe(let subscribe):
                try server.channels.subscribe(subscribe, id: id, from: connection)
            case .unsubscribe(let sub):
                try server.channels.unsubscribe(sub, id: id, from: connection)
            case .publish(let json):
                try server.channels.publish(json, id: id, from: connection)
            case .ping:
                connection.sendText(ServerFrame.pong(id: id))
            case .auth(let token):
                try server.auth.refreshToken(token, id: id, for: connection)
            case .recordGet, .recordEdit, .recordStop, .recordCommit, .recordDelete:
                try server.recordCommands.handle(command, id: id, from: connection)
            case .presenceEnter, .presenceUpdate, .presenceLeave, .presenceSubscribe, .presenceUnsubscribe,
                .typingStart, .typingStop, .typingSubscribe, .typingUnsubscribe:
                try server.presenceCommands.handle(command, id: id, from: connection)
            }
        } catch {
            if error.code == .tooManySubscriptions { server.metrics.hit(.subscriptions) }
            connection.sendText(ServerFrame.error(id: id, error))
        }
        server.armDeadlines()
    }
}
