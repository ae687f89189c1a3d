import ConcordCodec
import ConcordCore
import Foundation

/// `/v1/presence/{channel}`: backends read presence and hold users present with a TTL.
final class PresenceHTTP {
    static let prefix = "/v1/presence/"
    private unowned let server: ConcordServer

    init(server: ConcordServer) {
        self.server = server
    }

    private var configuration: ServerConfiguration { server.configuration }
    private var presence: any PresenceStore { server.presence }

    func respond(to request: HTTPRequest, answer: @escaping (HTTPResponse) -> Void) {
        guard server.auth.isAuthorizedBackend(request) else { return answer(.missingAPIKey) }
        // The router saw the raw path; the channel is decoded only now, after routing.
        guard let channel = String(request.path.dropFirst(Self.prefix.count)).removingPercentEncoding else {
            return answer(.error(400, ProtocolError(.invalidChannel, "channel is not valid percent-encoded UTF-8")))
        }
        if let error = ChannelName.validate(channel) { return answer(.error(400, error)) }
        switch request.method {
        case "GET": readPresence(channel, request, answer: answer)
        case "POST": enterPresence(channel, request, answer: answer)
        case "DELETE": removePresence(channel, request, answer: answer)
        default:
            answer(
                .error(
                    405, ProtocolError(.methodNotAllowed, "use GET, POST or DELETE for /v1/presence/{channel}"),
                    headers: [("Allow", "GET, POST, DELETE")]))
        }
    }

    private func readPresence(_ channel: String, _ request: HTTPRequest, answer: @escaping (HTTPResponse) -> Void) {
        let countOnly = request.query["count"] == "1" || request.query["count"] == "true"
        var limit = configuration.maxPresenceMembers
        if let text = request.query["limit"], !countOnly {
            guard let asked = Int(text), asked >= 0 else {
                return answer(.error(400, ProtocolError(.invalidFrame, "limit must be a non-negative integer")))
            }
            limit = min(asked, limit)
        }
        presence.snapshot(of: channel, limit: countOnly ? 0 : limit) { result in
            guard case .success(let snapshot) = result else {
                return answer(.error(503, ProtocolError(.unavailable, "presence is unavailable")))
            }
            answer(
                .json(200) { w in
                    w.raw("{\"channel\":"); w.string(channel)
                    w.raw(",\"total\":"); w.int(Int64(snapshot.total))
                    if !countOnly {
                        w.raw(",\"members\":"); ServerFrame.writeMembers(snapshot.members, into: &w)
                    }
                    w.raw("}")
                })
        }
    }

    private func enterPresence(_ channel: String, _ request: HTTPRequest, answer: @escaping (HTTPResponse) -> Void) {
        let body: [String: JSONValue]
        switch JSONParsing.object(from: request.body, "the body") {
        case .success(let parsed): body = parsed
        case .failure(let error): return answer(.error(400, error))
        }
        guard case .string(let user)? = body["user"], !user.isEmpty, user.utf8.count <= 200, !user.hasPrefix("~") else {
            return answer(.error(400, ProtocolError(.invalidFrame, "\"user\" must be a string of 1 to 200 bytes, not starting with \"~\"")))
        }
        var ttl = configuration.defaultPresenceTTLMilliseconds
        switch body["ttlMs"] {
        case nil, .null?: break
        case .int(let value)? where value >= 1 && value <= ServerConfiguration.maxPresenceTTLMilliseconds: ttl = value
        default:
            return answer(.error(400, ProtocolError(.invalidFrame, "\"ttlMs\" must be an integer from 1 to \(ServerConfiguration.maxPresenceTTLMilliseconds)")))
        }
        let info: JSONValue
        do { info = try ClientCommand.presenceInfo(body, "presence") } catch { return answer(.error(400, error)) }
        let holder = PresenceHolder.backend(channel: channel, user: user)
        presence.enter(holder, user: user, channel: channel, info: info, limit: 1, replacing: { _ in false }) { [unowned self] result in
            if case .failure(let error) = result { return answer(.error(error.code == .unavailable ? 503 : 400, error)) }
            presence.expire(holder, at: server.ticks + ttl)
            server.armDeadlines()
            answer(
                .json(200) { w in
                    w.raw("{\"channel\":"); w.string(channel)
                    w.raw(",\"user\":"); w.string(user)
                    w.raw(",\"ttlMs\":"); w.int(ttl)
                    w.raw("}")
                })
        }
    }

    private func removePresence(_ channel: String, _ request: HTTPRequest, answer: @escaping (HTTPResponse) -> Void) {
        guard let user = request.query["user"], !user.isEmpty else {
            return answer(.error(400, ProtocolError(.invalidFrame, "name the user: ?user=ID")))
        }
        presence.removeAll(.backend(channel: channel, user: user)) { [unowned self] removed in
            server.armDeadlines()
            answer(
                .json(200) { w in
                    w.raw("{\"channel\":"); w.string(channel)
                    w.raw(",\"user\":"); w.string(user)
                    w.raw(",\"removed\":"); removed ? w.raw("true") : w.raw("false")
                    w.raw("}")
                })
        }
    }
}
