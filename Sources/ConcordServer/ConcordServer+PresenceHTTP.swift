import ConcordCodec
import ConcordCore
import Foundation

/// `/v1/presence/{channel}`: backends read presence and hold users present with a TTL.
extension ConcordServer {
    static let presencePrefix = "/v1/presence/"

    func respondPresence(to request: HTTPRequest) -> HTTPResponse {
        guard isAuthorizedBackend(request) else {
            return .error(401, ProtocolError(.unauthorized, "missing or invalid API key"), headers: [("WWW-Authenticate", "Bearer")])
        }
        // The router saw the raw path; the channel is decoded only now, after routing.
        guard let channel = String(request.path.dropFirst(Self.presencePrefix.count)).removingPercentEncoding else {
            return .error(400, ProtocolError(.invalidChannel, "channel is not valid percent-encoded UTF-8"))
        }
        if let error = ChannelName.validate(channel) { return .error(400, error) }
        switch request.method {
        case "GET": return readPresence(channel, request)
        case "POST": return enterPresence(channel, request)
        case "DELETE": return removePresence(channel, request)
        default:
            return .error(
                405, ProtocolError(.methodNotAllowed, "use GET, POST or DELETE for /v1/presence/{channel}"),
                headers: [("Allow", "GET, POST, DELETE")])
        }
    }

    private func readPresence(_ channel: String, _ request: HTTPRequest) -> HTTPResponse {
        if let count = request.query["count"], count == "1" || count == "true" {
            return .json(200) { w in
                w.raw("{\"channel\":"); w.string(channel)
                w.raw(",\"total\":"); w.int(Int64(presence.memberCount(of: channel)))
                w.raw("}")
            }
        }
        var limit = configuration.maxPresenceMembers
        if let text = request.query["limit"] {
            guard let asked = Int(text), asked >= 0 else {
                return .error(400, ProtocolError(.invalidFrame, "limit must be a non-negative integer"))
            }
            limit = min(asked, limit)
        }
        let snapshot = presence.members(of: channel, limit: limit)
        return .json(200) { w in
            w.raw("{\"channel\":"); w.string(channel)
            w.raw(",\"total\":"); w.int(Int64(snapshot.total))
            w.raw(",\"members\":"); ServerFrame.writeMembers(snapshot.members, into: &w)
            w.raw("}")
        }
    }

    private func enterPresence(_ channel: String, _ request: HTTPRequest) -> HTTPResponse {
        let body: [String: JSONValue]
        switch JSONParsing.object(from: request.body, "the body") {
        case .success(let parsed): body = parsed
        case .failure(let error): return .error(400, error)
        }
        guard case .string(let user)? = body["user"], !user.isEmpty, user.utf8.count <= 200, !user.hasPrefix("~") else {
            return .error(400, ProtocolError(.invalidFrame, "\"user\" must be a string of 1 to 200 bytes, not starting with \"~\""))
        }
        var ttl = configuration.defaultPresenceTTLMilliseconds
        switch body["ttlMs"] {
        case nil, .null?: break
        case .int(let value)? where value >= 1 && value <= ServerConfiguration.maxPresenceTTLMilliseconds: ttl = value
        default:
            return .error(400, ProtocolError(.invalidFrame, "\"ttlMs\" must be an integer from 1 to \(ServerConfiguration.maxPresenceTTLMilliseconds)"))
        }
        let info: JSONValue
        do { info = try ClientCommand.presenceInfo(body, "presence") } catch { return .error(400, error) }
        let session = PresenceSession.backend(channel: channel, user: user)
        do {
            let change = try presence.enter(session, user: user, channel: channel, info: info, limit: 1)
            broadcast(change.map { [$0] } ?? [])
        } catch {
            return .error(400, error)
        }
        presence.setExpiry(session, at: Int64(loop.now) + ttl)
        armDeadlines()
        return .json(200) { w in
            w.raw("{\"channel\":"); w.string(channel)
            w.raw(",\"user\":"); w.string(user)
            w.raw(",\"ttlMs\":"); w.int(ttl)
            w.raw("}")
        }
    }

    private func removePresence(_ channel: String, _ request: HTTPRequest) -> HTTPResponse {
        guard let user = request.query["user"], !user.isEmpty else {
            return .error(400, ProtocolError(.invalidFrame, "name the user: ?user=ID"))
        }
        let session = PresenceSession.backend(channel: channel, user: user)
        let removed = presence.channels(of: session) > 0
        broadcast(presence.removeAll(session))
        armDeadlines()
        return .json(200) { w in
            w.raw("{\"channel\":"); w.string(channel)
            w.raw(",\"user\":"); w.string(user)
            w.raw(",\"removed\":"); removed ? w.raw("true") : w.raw("false")
            w.raw("}")
        }
    }
}
