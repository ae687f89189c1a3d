import ConcordAuth
import ConcordCodec
import ConcordCore

/// `/demo`: a small collaborative app (posts, an edit form, comments) served by Concord itself, and
/// the few backend routes it needs. Post contents live in Concord's records; the page edits them
/// with the JavaScript client's record API, as an app would.
extension ConcordServer {
    static let demoPrefix = "/demo"

    func respondDemo(to request: HTTPRequest, answer: @escaping (HTTPResponse) -> Void) {
        guard let board = demoBoard else {
            return answer(.error(404, ProtocolError(.notFound, "the demo is off: start with --dev or --demo")))
        }
        let parts = request.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        // parts[0] == "demo"
        switch (request.method, Array(parts.dropFirst())) {
        case ("GET", []):
            return answer(demoFile(board, "index.html"))
        case ("GET", let rest) where rest.count == 1:
            return answer(demoFile(board, rest[0]))
        case ("GET", ["api", "config"]):
            return answer(.json(200) { w in
                w.value(.object([
                    "devMode": .bool(configuration.developmentMode),
                    "tokens": .bool(!tokenSecrets.isEmpty),
                    "users": .array(DemoBoard.users.map(JSONValue.string)),
                ]))
            })
        case ("GET", ["api", "token"]):
            return answer(demoToken(request))
        case ("GET", ["api", "posts"]):
            let posts = DemoBoard.posts(in: records).map { DemoBoard.postJSON(id: $0.id, state: $0.state) }
            return answer(.json(200) { $0.value(.object(["posts": .array(posts)])) })
        case ("GET", let rest) where rest.count == 3 && rest[0] == "api" && rest[1] == "posts":
            let key = RecordKey(channel: DemoBoard.postsChannel, id: rest[2])
            guard let state = records.state(of: key), state.tombstone == nil else {
                return answer(.error(404, ProtocolError(.notFound, "no post \(rest[2])")))
            }
            return answer(.json(200) { $0.value(.object(["post": DemoBoard.postJSON(id: rest[2], state: state)])) })
        case ("POST", ["api", "posts"]):
            return createDemoPost(request, answer: answer)
        case ("GET", let rest) where rest.count == 4 && rest[0] == "api" && rest[1] == "posts" && rest[3] == "comments":
            let list = board.comments[rest[2]] ?? []
            return answer(.json(200) { $0.value(.object(["comments": .array(list.map(\.json))])) })
        case ("POST", let rest) where rest.count == 4 && rest[0] == "api" && rest[1] == "posts" && rest[3] == "comments":
            return answer(addDemoComment(request, post: rest[2], board: board))
        default:
            return answer(.error(404, ProtocolError(.notFound, "no route for \(request.method) \(request.path)")))
        }
    }

    private func demoFile(_ board: DemoBoard, _ name: String) -> HTTPResponse {
        guard let file = board.file(name) else {
            return .error(404, ProtocolError(.notFound, "no demo file \(name.prefix(60))"))
        }
        return HTTPResponse(status: 200, contentType: file.type, headers: [("Cache-Control", "no-store")], body: file.bytes)
    }

    /// The demo's user from a JSON body: one of the demo's users, or anyone in development mode.
    private func demoUser(_ body: [String: JSONValue]) throws(ProtocolError) -> String {
        guard case .string(let user)? = body["user"], !user.isEmpty, user.utf8.count <= 64, !user.hasPrefix("~") else {
            throw ProtocolError(.invalidFrame, "the demo needs \"user\" as a string of 1 to 64 bytes")
        }
        return user
    }

    private func demoText(_ body: [String: JSONValue], _ name: String, allowEmpty: Bool = false) throws(ProtocolError) -> String {
        guard case .string(let text)? = body[name], allowEmpty || !text.isEmpty, text.utf8.count <= DemoBoard.maxTextBytes else {
            throw ProtocolError(.invalidFrame, "\"\(name)\" must be a string of 1 to \(DemoBoard.maxTextBytes) bytes")
        }
        return text
    }

    private func createDemoPost(_ request: HTTPRequest, answer: @escaping (HTTPResponse) -> Void) {
        do {
            guard case .object(let body)? = JSONParsing.value(from: request.body) else {
                throw ProtocolError(.invalidJSON, "body must be a JSON object")
            }
            let user = try demoUser(body)
            let title = try demoText(body, "title")
            let text = try demoText(body, "body", allowEmpty: true)
            let id = DemoBoard.nextPostID(in: records)
            let key = RecordKey(channel: DemoBoard.postsChannel, id: id)
            try commit(key, Commit(actor: user, context: VersionVector(), fields: ["title": .string(title), "body": .string(text)]),
                       delete: false) { [unowned self] result in
                guard case .outcome(.accepted) = result, let state = records.state(of: key) else {
                    return answer(.error(503, ProtocolError(.unavailable, "the post could not be stored")))
                }
                publishDemoEvent(DemoBoard.postsChannel, "created", ["ids": .array([.string(id)])])
                answer(.json(201) { $0.value(.object(["post": DemoBoard.postJSON(id: id, state: state)])) })
            }
        } catch let error as ProtocolError {
            answer(.error(400, error))
        } catch {
            answer(.error(500, ProtocolError(.internal, "internal error")))
        }
    }

    private func addDemoComment(_ request: HTTPRequest, post: String, board: DemoBoard) -> HTTPResponse {
        do {
            guard case .object(let body)? = JSONParsing.value(from: request.body) else {
                throw ProtocolError(.invalidJSON, "body must be a JSON object")
            }
            guard records.state(of: RecordKey(channel: DemoBoard.postsChannel, id: post))?.tombstone == nil,
                  records.state(of: RecordKey(channel: DemoBoard.postsChannel, id: post)) != nil else {
                return .error(404, ProtocolError(.notFound, "no post \(post)"))
            }
            let user = try demoUser(body)
            let name = (try? demoText(body, "name")) ?? user
            let comment = board.addComment(post: post, user: user, name: name, text: try demoText(body, "text"), at: now())
            publishDemoEvent(DemoBoard.commentsChannel, "created", ["ids": .array([.string(comment.id)]), "post": .string(post)])
            return .json(201) { $0.value(.object(["comment": comment.json])) }
        } catch let error as ProtocolError {
            return .error(400, error)
        } catch {
            return .error(500, ProtocolError(.internal, "internal error"))
        }
    }

    private func publishDemoEvent(_ channel: String, _ type: String, _ payload: [String: JSONValue]) {
        let json: [String: JSONValue] = ["channel": .string(channel), "type": .string(type), "payload": .object(payload)]
        if let event = try? LiveEvent(json: json, now: now()) { _ = publish(event) }
    }

    /// A ten-minute token for a demo user, signed with the server's first HS256 secret: what an app's
    /// backend does for its signed-in user.
    private func demoToken(_ request: HTTPRequest) -> HTTPResponse {
        guard let secret = tokenSecrets.first else {
            return .error(404, ProtocolError(.notFound, "this server has no HS256 secret; the demo connects with ?user= in development mode"))
        }
        guard let user = request.query["user"], DemoBoard.users.contains(user) else {
            return .error(400, ProtocolError(.badRequest, "pick a demo user: \(DemoBoard.users.joined(separator: ", "))"))
        }
        let expires = now().milliseconds / 1000 + 600
        let token = TokenSigner.hs256(claims: [
            "sub": .string(user), "name": .string(user.prefix(1).uppercased() + user.dropFirst()), "exp": .int(expires),
            "caps": .object([
                "demo/*": .array([.string("subscribe"), .string("commit"), .string("presence"), .string("typing")]),
            ]),
        ], secret: secret)
        return HTTPResponse(status: 200, contentType: "text/plain; charset=utf-8", headers: [("Cache-Control", "no-store")], body: Array(token.utf8))
    }

    /// Three posts to start with, unless the record store already has posts.
    func seedDemo() {
        guard demoBoard != nil, DemoBoard.posts(in: records).isEmpty else { return }
        let seeds = [
            ("Welcome to Concord", "Open this post in a second window as another user: you will see each other."),
            ("Conflicts, caught early", "Edit the title in both windows and save one: the other is warned before saving."),
            ("Typing indicators", "Type a comment below: the other window shows who is typing."),
        ]
        for (index, (title, body)) in seeds.enumerated() {
            let key = RecordKey(channel: DemoBoard.postsChannel, id: String(index + 1))
            try? commit(key, Commit(actor: "concord", context: VersionVector(), fields: ["title": .string(title), "body": .string(body)]),
                        delete: false) { _ in }
        }
    }
}
