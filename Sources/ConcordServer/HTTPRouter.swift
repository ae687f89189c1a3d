import ConcordCodec
import ConcordCore

/// Which endpoint answers an HTTP request. Endpoints register the paths they own at start; the
/// router checks what every API request shares (a JSON body on `POST /v1/...`) and hands the
/// request to the first route that matches. An answer may come later (a commit waits until it is
/// durable); `answer` runs on the loop thread, once.
final class HTTPRouter {
    typealias Answer = (HTTPResponse) -> Void
    typealias Handler = (HTTPRequest, @escaping Answer) -> Void

    enum Path {
        /// This path exactly.
        case exact(String)
        /// This path, and everything under it (`/demo` matches `/demo` and `/demo/...`).
        case tree(String)
        /// Every path that starts with this.
        case prefix(String)

        func matches(_ path: String) -> Bool {
            switch self {
            case .exact(let exact): return path == exact
            case .tree(let root): return path == root || path.hasPrefix(root + "/")
            case .prefix(let prefix): return path.hasPrefix(prefix)
            }
        }
    }

    /// Opens a stream on the connection, or answers why not (the connection then closes).
    typealias StreamHandler = (HTTPRequest, Connection) -> HTTPResponse?

    private var routes: [(path: Path, handler: Handler)] = []
    private var streams: [String: StreamHandler] = [:]

    /// A path whose response never ends (Server-Sent Events): its handler takes the connection.
    func addStream(_ path: String, _ handler: @escaping StreamHandler) {
        streams[path] = handler
    }

    func stream(for request: HTTPRequest) -> StreamHandler? {
        streams[request.path]
    }

    func add(_ path: Path, _ handler: @escaping Handler) {
        routes.append((path, handler))
    }

    /// A route that answers at once.
    func add(_ path: Path, now handler: @escaping (HTTPRequest) -> HTTPResponse) {
        add(path) { request, answer in answer(handler(request)) }
    }

    func respond(to request: HTTPRequest, answer: @escaping Answer) {
        if request.method == "POST", request.path.hasPrefix("/v1/"), !request.hasMediaType("application/json") {
            return answer(.error(415, ProtocolError(.unsupportedMediaType, "send Content-Type: application/json")))
        }
        guard let route = routes.first(where: { $0.path.matches(request.path) }) else {
            return answer(.notFound(request))
        }
        route.handler(request, answer)
    }
}
