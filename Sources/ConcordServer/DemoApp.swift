import ConcordAuth
import ConcordCodec
import ConcordCore

/// `/demo`: a small collaborative app (posts, an edit form, comments) served by Concord itself, and
/// the few backend routes it needs. Post contents live in Concord's records; the page edits them
/// with the JavaScript client's record API, as an app would. It stands outside the server type and
/// uses the server as an app's backend does: records, commits, publishing.
final class DemoApp {
    static let prefix = "/demo"

    private unowned let server: ConcordServer
    private let board: DemoBoard

    init(server: ConcordServer, board: DemoBoard) {
        self.server = server
        self.board = board
    }

    /// Follows an accepted commit, whoever made it: a post created over the record API is listed too.
    func noteCommit(_ key: RecordKey, _ state: RecordState) {
        board.noteCommit(key, state)
    }

    func respond(to request: HTTPRequest, answer: @escaping (HTTPResponse) -> Void) {
        let parts = request.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        // parts[0] == "demo"
        switch (request.method, Array(parts.dropFirst())) {
        case ("GET", []):
            return answer(demoFile("index.html"))
        case ("GET", let rest) where rest.count == 1:
            return answer(demoFile(rest[0]))
        case ("GET", ["api", "config"]):
            return answer(
                .json(200) { w in
                    w.value(
                        .object([
                            "devMode": .bool(server.configuration.developmentMode),
                            "tokens": .bool(!server.auth.tokenSecrets.isEmpty),
                            "users": .array(DemoBoard.users.map(JSONValue.string)),
                        ]))
                })
        case ("GET", ["api", "token"]):
            return answer(demoToken(request))
        case ("GET", ["api", "posts"]):
            let keys = board.postKeys
            return server.records.readAll(keys, failed: { answer(.storeUnavailable) }) { states in
                let posts = zip(keys, states).compactMap { key, state in
                    state.flatMap { $0.tombstone == nil ? DemoBoard.postJSON(id: key.id, state: $0) : nil }
                }
                answer(.json(200) { $0.value(.object(["posts": .array(posts)])) })
            }
        case ("GET", let rest) where rest.count == 3 && rest[0] == "api" && rest[1] == "posts":
            return readDemoPost(rest[2], answer: answer) { state in
                answer(.json(200) { $0.value(.object(["post": DemoBoard.postJSON(id: rest[2], state: state)])) })
            }
        case ("POST", ["api", "posts"]):
            return createDemoPost(request, answer: answer)
        case ("GET", let rest) where rest.count == 4 && rest[0] == "api" && rest[1] == "posts" && rest[3] == "comments":
            let list = board.comments[rest[2]] ?? []
            return answer(.json(200) { $0.value(.object(["comments": .array(list.map(\.json))])) })
        case ("POST", let rest) where rest.count == 4 && rest[0] == "api" && rest[1] == "posts" && rest[3] == "comments":
            return addDemoComment(request, post: rest[2], answer: answer)
        default:
            return answer(.error(404, ProtocolError(.notFound, "no route for \(request.method) \(request.path)")))
        }
    }

    private func demoFile(_ name: String) -> HTTPResponse {
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
        do throws(ProtocolError) {
            let body = try JSONParsing.object(from: request.body, "the body").get()
            let user = try demoUser(body)
            let title = try demoText(body, "title")
            let text = try demoText(body, "body", allowEmpty: true)
            let id = board.nextPostID()
            let key = RecordKey(channel: DemoBoard.postsChannel, id: id)
            server.recordCommands.commit(
                key, Commit(actor: user, context: VersionVector(), fields: ["title": .string(title), "body": .string(text)]),
                delete: false
            ) { [self] result in
                guard case .outcome(.accepted) = result else {
                    return answer(.error(503, ProtocolError(.unavailable, "the post could not be stored")))
                }
                publishDemoEvent(DemoBoard.postsChannel, "created", ["ids": .array([.string(id)])])
                readDemoPost(id, answer: answer) { state in
                    answer(.json(201) { $0.value(.object(["post": DemoBoard.postJSON(id: id, state: state)])) })
                }
            }
        } catch {
            answer(.error(400, error))
        }
    }

    /// Runs `found` with the post's state, or answers 404 for a post that does not exist (or 503).
    private func readDemoPost(_ id: String, answer: @escaping (HTTPResponse) -> Void, found: @escaping (RecordState) -> Void) {
        server.records.read(RecordKey(channel: DemoBoard.postsChannel, id: id), failed: { answer(.storeUnavailable) }) { state in
            guard let state, state.tombstone == nil else {
                return answer(.error(404, ProtocolError(.notFound, "no post \(id.prefix(60))")))
            }
            found(state)
        }
    }

    private func addDemoComment(_ request: HTTPRequest, post: String, answer: @escaping (HTTPResponse) -> Void) {
        let user: String, name: String, text: String
        do throws(ProtocolError) {
            let body = try JSONParsing.object(from: request.body, "the body").get()
            user = try demoUser(body)
            name = (try? demoText(body, "name")) ?? user
            text = try demoText(body, "text")
        } catch {
            return answer(.error(400, error))
        }
        readDemoPost(post, answer: answer) { [self] _ in
            let comment = board.addComment(post: post, user: user, name: name, text: text, at: server.now())
            publishDemoEvent(DemoBoard.commentsChannel, "created", ["ids": .array([.string(comment.id)]), "post": .string(post)])
            answer(.json(201) { $0.value(.object(["comment": comment.json])) })
        }
    }

    private func publishDemoEvent(_ channel: String, _ type: String, _ payload: [String: JSONValue]) {
        let json: [String: JSONValue] = ["channel": .string(channel), "type": .string(type), "payload": .object(payload)]
        if let event = try? LiveEvent(json: json, now: server.now()) { server.channels.publish(event) }
    }

    /// A ten-minute token for a demo user, signed with the server's first HS256 secret: what an app's
    /// backend does for its signed-in user.
    private func demoToken(_ request: HTTPRequest) -> HTTPResponse {
        guard let secret = server.auth.tokenSecrets.first else {
            return .error(404, ProtocolError(.notFound, "this server has no HS256 secret; the demo connects with ?user= in development mode"))
        }
        guard let user = request.query["user"], DemoBoard.users.contains(user) else {
            return .error(400, ProtocolError(.badRequest, "pick a demo user: \(DemoBoard.users.joined(separator: ", "))"))
        }
        let expires = server.now().milliseconds / 1000 + 600
        let token = TokenSigner.hs256(
            claims: [
                "sub": .string(user), "name": .string(user.prefix(1).uppercased() + user.dropFirst()), "exp": .int(expires),
                "caps": .object([
                    "demo/*": .array([.string("subscribe"), .string("commit"), .string("presence"), .string("typing")])
                ]),
            ], secret: secret)
        return HTTPResponse(status: 200, contentType: "text/plain; charset=utf-8", headers: [("Cache-Control", "no-store")], body: Array(token.utf8))
    }

    /// Three posts to start with, unless the record store already has posts.
    func seed() {
        guard !board.hasPosts else { return }
        let seeds = [
            ("Welcome to Concord", "Open this post in a second window as another user: you will see each other."),
            ("Conflicts, caught early", "Edit the title in both windows and save one: the other is warned before saving."),
            ("Typing indicators", "Type a comment below: the other window shows who is typing."),
        ]
        for (title, body) in seeds {
            let key = RecordKey(channel: DemoBoard.postsChannel, id: board.nextPostID())
            server.recordCommands.commit(
                key, Commit(actor: "concord", context: VersionVector(), fields: ["title": .string(title), "body": .string(body)]),
                delete: false
            ) { _ in }
        }
    }
}
