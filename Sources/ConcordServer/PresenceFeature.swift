import ConcordCore

/// The presence and typing feature: entering, updating and leaving presence, typing signals, and
/// watching both, carried out on the presence and typing stores. Keeps no state of its own: the
/// stores hold who is where, the hub who watches.
final class PresenceFeature {
    private unowned let server: ConcordServer

    init(server: ConcordServer) {
        self.server = server
    }

    private var configuration: ServerConfiguration { server.configuration }
    private var presence: any PresenceStore { server.presence }
    private var typing: any TypingStore { server.typing }
    private var hub: Hub { server.hub }

    func handle(_ command: ClientCommand, id: JSONValue?, from connection: Connection) throws(ProtocolError) {
        switch command {
        case .presenceEnter(let channel, var info):
            let user = try connection.session.requireUser("presence")
            try server.auth.authorize(connection, .presence, on: channel)
            // Info the client leaves empty comes from its token, which the app's backend vouches for.
            if info == .object([:]), let tokenInfo = connection.session.principal.info { info = tokenInfo }
            // The user's presence left here by connections that vanished (a reconnect) is taken
            // over: watchers see one update and no leave or join.
            let own = connection.session.id
            presence.enter(
                .session(own), user: user, channel: channel, info: info, limit: configuration.maxSubscriptions,
                replacing: { [unowned server] holder in
                    guard case .session(let old) = holder else { return false }
                    return old != own && server.connections.connection(of: old) == nil
                },
                done: reply(connection, id: id, "presence.entered", channel))
        case .presenceUpdate(let channel, let info):
            presence.update(.session(connection.session.id), channel: channel, info: info, done: reply(connection, id: id, "presence.updated", channel))
        case .presenceLeave(let channel):
            presence.leave(.session(connection.session.id), channel: channel, done: reply(connection, id: id, "presence.left", channel))
        case .presenceSubscribe(let channel):
            // Watching is reading: those who may subscribe to the channel may see who is there.
            try server.auth.authorize(connection, [.presence, .subscribe], on: channel)
            try connection.session.watch(.presence, channel)
            // The watcher joins the hub only with the snapshot: the store answers at the point of
            // its stream of changes the snapshot reflects, so the watcher gets exactly the later ones.
            presence.snapshot(of: channel, limit: configuration.maxPresenceMembers) { [unowned self] result in
                // Unwatched (or gone) before the answer: nothing to register or send.
                guard server.isOpen(connection), connection.session.watches(.presence).contains(channel) else { return }
                switch result {
                case .success(let snapshot):
                    hub.watchPresence(channel, connection)
                    connection.sendText(ServerFrame.presenceSnapshot(id: id, channel: channel, members: snapshot.members, total: snapshot.total))
                case .failure(let error):
                    try? connection.session.unwatch(.presence, channel)
                    connection.sendText(ServerFrame.error(id: id, error))
                }
            }
        case .presenceUnsubscribe(let channel):
            try connection.session.unwatch(.presence, channel)
            hub.unwatchPresence(channel, connection)
            connection.sendText(ServerFrame.channelReply("presence.unsubscribed", id: id, channel: channel))
        case .typingStart(let channel, let scope):
            let user = try connection.session.requireUser("typing")
            try server.auth.authorize(connection, .typing, on: channel)
            try takeTypingToken(connection)
            if let id { connection.sendText(ServerFrame.typingOK(id: id)) }
            typing.signal(
                .init(channel: channel, user: user, scope: scope), name: connection.session.name,
                now: server.ticks, ttl: Int64(configuration.typingTTLMilliseconds))
        case .typingStop(let channel, let scope):
            let user = try connection.session.requireUser("typing")
            try server.auth.authorize(connection, .typing, on: channel)
            try takeTypingToken(connection)
            if let id { connection.sendText(ServerFrame.typingOK(id: id)) }
            typing.stop(.init(channel: channel, user: user, scope: scope))
        case .typingSubscribe(let channel):
            try server.auth.authorize(connection, [.typing, .subscribe], on: channel)
            try connection.session.watch(.typing, channel)
            // As for presence: the watcher joins the hub with the list of who is typing now.
            typing.typing(in: channel) { [unowned self] typists in
                guard server.isOpen(connection), connection.session.watches(.typing).contains(channel) else { return }
                hub.watchTyping(channel, connection)
                connection.sendText(ServerFrame.typingSnapshot(id: id, channel: channel, typing: typists))
            }
        case .typingUnsubscribe(let channel):
            try connection.session.unwatch(.typing, channel)
            hub.unwatchTyping(channel, connection)
            connection.sendText(ServerFrame.channelReply("typing.unsubscribed", id: id, channel: channel))
        default:
            break
        }
    }

    /// The reply to a presence command once the store has done it, or its error.
    private func reply(_ connection: Connection, id: JSONValue?, _ op: StaticString, _ channel: String) -> (Result<Void, ProtocolError>) -> Void {
        { result in
            switch result {
            case .success: connection.sendText(ServerFrame.channelReply(op, id: id, channel: channel))
            case .failure(let error): connection.sendText(ServerFrame.error(id: id, error))
            }
        }
    }

    private func takeTypingToken(_ connection: Connection) throws(ProtocolError) {
        try server.takeToken(
            from: &connection.session.typingBucket, burst: configuration.typingBurst,
            perSecond: configuration.typingPerSecond, limit: .typingRate, what: "typing signals")
    }
}
