import ConcordCodec
import ConcordCore
import ConcordUV

/// `GET /v1/sse`: one subscription over Server-Sent Events, for networks that block WebSocket and
/// for apps that only listen. The same token rules (`?token=`), filter, limits and recovery as a
/// WebSocket subscription: each event's `id` is its stream position, so the browser's own reconnect
/// (with Last-Event-ID) recovers through `Broker.subscribe(since:)`. Keeps no state of its own.
final class EventStreamFeature {
    private unowned let server: ConcordServer

    init(server: ConcordServer) {
        self.server = server
    }

    /// Opens the stream on `connection`, or answers why not.
    func open(_ request: HTTPRequest, on connection: Connection) -> HTTPResponse? {
        guard request.method == "GET" else { return .methodNotAllowed("GET", request.path) }
        let principal: Principal
        switch server.auth.admit(request) {
        case .refused(let response): return response
        case .admitted(let admitted): principal = admitted
        }
        let channel: String, filter: SubscriptionFilter, since: StreamPosition?
        do throws(ProtocolError) {
            (channel, filter, since) = try Self.subscription(request)
            try principal.authorize(.subscribe, on: channel, serverGrants: server.auth.serverGrants)
        } catch {
            return .error(error.code == .forbidden ? 403 : 400, error)
        }
        connection.startEventStream(principal: principal)
        server.streamOpened(connection)
        connection.stream.send(SharedBytes(Self.head))
        try? server.hub.subscribeStream(connection, channel: channel, filter: filter)
        connection.session.channelSubscribed()
        server.broker.subscribe(channel, since: since) { [unowned server] result in
            switch result {
            case .failure:
                // Nothing to stream from: end it; EventSource tries again after its retry delay.
                connection.beginClosing()
            case .success(let subscription):
                // The position first: a browser that reconnects before any event asks from here.
                connection.stream.send(SharedBytes(ServerFrame.ssePosition(subscription.position)))
                switch subscription.recovery {
                case .recovered(let events)?:
                    for entry in events where filter.admits(type: entry.type, ids: entry.ids) {
                        guard let event = entry.event else { continue }
                        connection.stream.send(
                            SharedBytes(ServerFrame.sseEvent(event.body, position: StreamPosition(offset: entry.offset, epoch: subscription.position.epoch))))
                    }
                    server.metrics.recoveries.increment()
                case .failed(let failure)?:
                    // What was missed is gone: one event that tells the app to refetch.
                    connection.stream.send(SharedBytes(ServerFrame.sseEvent(Self.refetch(channel, failure, server.now()), position: subscription.position)))
                    server.metrics.recoveriesFailed.increment()
                case nil:
                    break
                }
            }
        }
        return nil
    }

    static let head = Array(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache\r\nX-Accel-Buffering: no\r\n\r\n".utf8)

    /// `?channel=C[&types=a,b][&ids=1,2][&lastEventId=EPOCH:OFFSET]`; the Last-Event-ID header wins.
    static func subscription(_ request: HTTPRequest) throws(ProtocolError) -> (String, SubscriptionFilter, StreamPosition?) {
        guard let channel = request.query["channel"] else {
            throw ProtocolError(.invalidFrame, "name the channel: ?channel=CHANNEL")
        }
        if let error = ChannelName.validate(channel) { throw error }
        let types = request.query["types"].map { $0.split(separator: ",").map(String.init) } ?? ["*"]
        guard !types.isEmpty, types.count <= ClientCommand.maxTypes else {
            throw ProtocolError(.invalidFrame, "types: 1 to \(ClientCommand.maxTypes) comma-separated types")
        }
        var ids: [String]?
        if let list = request.query["ids"] {
            ids = list.split(separator: ",").map(String.init)
            guard ids!.count <= ClientCommand.maxIDs else {
                throw ProtocolError(.invalidFrame, "at most \(ClientCommand.maxIDs) ids per subscription")
            }
        }
        var since: StreamPosition?
        if let last = request.header("last-event-id") ?? request.query["lastEventId"] {
            guard let position = ServerFrame.ssePosition(parsing: last) else {
                throw ProtocolError(.invalidFrame, "Last-Event-ID must be EPOCH:OFFSET, as the stream's ids are")
            }
            since = position
        }
        return (channel, SubscriptionFilter(types: types, ids: ids), since)
    }

    /// The Refine event that says: refetch, what was missed cannot be replayed.
    static func refetch(_ channel: String, _ failure: RecoveryFailure, _ now: Timestamp) -> [String: JSONValue] {
        [
            "channel": .string(channel), "type": .string("*"), "payload": .object([:]), "date": .string(now.iso8601),
            "meta": .object(["concord": .object(["refetch": .bool(true), "reason": .string(failure.rawValue)])]),
        ]
    }
}
