import ConcordCodec
import ConcordCore

/// `/v1/records`: the backend reads versions and puts Concord's check in front of its own writes.
final class RecordsHTTP {
    private unowned let server: ConcordServer

    init(server: ConcordServer) {
        self.server = server
    }

    func respond(to request: HTTPRequest, answer: @escaping (HTTPResponse) -> Void) {
        guard server.auth.isAuthorizedBackend(request) else { return answer(.missingAPIKey) }
        switch (request.method, request.path) {
        case ("GET", "/v1/records"):
            guard let channel = request.query["channel"], let id = request.query["id"], !id.isEmpty else {
                return answer(.error(400, ProtocolError(.invalidFrame, "name the record: ?channel=CHANNEL&id=ID")))
            }
            if let error = ChannelName.validate(channel) { return answer(.error(400, error)) }
            let key = RecordKey(channel: channel, id: id)
            server.records.read(key, failed: { answer(.storeUnavailable) }) { state in
                answer(HTTPResponse(status: 200, body: ServerFrame.recordState(nil, id: nil, key: key, state: state)))
            }
        case ("POST", "/v1/records/commit"), ("POST", "/v1/records/delete"):
            commitOverHTTP(request, delete: request.path.hasSuffix("/delete"), answer: answer)
        case (_, "/v1/records"), (_, "/v1/records/commit"), (_, "/v1/records/delete"):
            let allowed = request.path == "/v1/records" ? "GET" : "POST"
            answer(.methodNotAllowed(allowed, request.path))
        default:
            answer(.notFound(request))
        }
    }

    private func commitOverHTTP(_ request: HTTPRequest, delete: Bool, answer: @escaping (HTTPResponse) -> Void) {
        let body: [String: JSONValue]
        switch JSONParsing.object(from: request.body, "the body") {
        case .success(let parsed): body = parsed
        case .failure(let error): return answer(.error(400, error))
        }
        do {
            let key = try ClientCommand.recordKey(body, delete ? "delete" : "commit")
            let context = try VersionVector.from(body["version"])
            let fields = delete ? nil : try ClientCommand.commitFields(body["fields"])
            var actor = "backend"
            if let given = body["actor"] {
                guard case .string(let name) = given else { throw ProtocolError(.invalidFrame, "\"actor\" must be a string") }
                actor = name
            }
            let dryRun = body["dryRun"] == .bool(true)
            server.recordCommands.commit(key, Commit(actor: actor, context: context, fields: fields), delete: delete, dryRun: dryRun) { result in
                switch result {
                case .outcome(.accepted(let accepted)):
                    answer(HTTPResponse(status: 200, body: ServerFrame.committed(nil, id: nil, key: key, accepted)))
                case .wouldBeAccepted(let accepted, let current):
                    answer(HTTPResponse(status: 200, body: ServerFrame.checked(key: key, current: current, accepted)))
                case .outcome(.conflict(let conflict)):
                    answer(HTTPResponse(status: 409, body: ServerFrame.conflict(nil, id: nil, key: key, conflict)))
                case .refused(let error):
                    answer(.error(400, error))
                case .unavailable:
                    answer(.storeUnavailable)
                case .contended:
                    answer(.error(503, .recordContended))
                }
            }
        } catch let error as ProtocolError {
            answer(.error(400, error))
        } catch {
            answer(.error(500, ProtocolError(.internal, "internal error")))
        }
    }
}
