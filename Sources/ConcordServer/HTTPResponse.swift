import ConcordCodec
import ConcordCore

/// An HTTP response about to be written, and the JSON error body every endpoint shares.
struct HTTPResponse {
    var status: Int
    var contentType: String = "application/json"
    var headers: [(String, String)] = []
    var body: [UInt8]

    init(status: Int, contentType: String = "application/json", headers: [(String, String)] = [], body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.headers = headers
        self.body = body
    }

    static func json(_ status: Int, _ build: (inout JSONWriter) -> Void) -> HTTPResponse {
        var w = JSONWriter()
        build(&w)
        return HTTPResponse(status: status, body: w.bytes)
    }

    static func error(_ status: Int, _ error: ProtocolError, headers: [(String, String)] = []) -> HTTPResponse {
        var response = json(status) { w in
            w.raw("{\"error\":{\"code\":")
            w.string(error.code.rawValue)
            w.raw(",\"message\":")
            w.string(error.message)
            w.raw("}}")
        }
        response.headers = headers
        return response
    }

    static func methodNotAllowed(_ allowed: String, _ path: String) -> HTTPResponse {
        .error(405, ProtocolError(.methodNotAllowed, "use \(allowed) for \(path)"), headers: [("Allow", allowed)])
    }

    static func notFound(_ request: HTTPRequest) -> HTTPResponse {
        .error(404, ProtocolError(.notFound, "no route for \(request.method) \(request.path)"))
    }

    /// A backend endpoint asked without a valid API key.
    static let missingAPIKey = HTTPResponse.error(
        401, ProtocolError(.unauthorized, "missing or invalid API key"), headers: [("WWW-Authenticate", "Bearer")])

    /// A record could not be read or written because the store failed.
    static let storeUnavailable = HTTPResponse.error(503, .storeUnavailable)

    /// The status line, headers and body in one buffer, written byte by byte (every backend
    /// request gets one).
    func serialized(keepAlive: Bool) -> [UInt8] {
        var w = JSONWriter(reservingCapacity: 128 + body.count)
        w.raw("HTTP/1.1 "); w.int(Int64(status)); w.rawBytes(" ".utf8); w.rawBytes(Self.reason(status).utf8)
        w.raw("\r\nContent-Type: "); w.rawBytes(contentType.utf8)
        w.raw("\r\nContent-Length: "); w.int(Int64(body.count))
        w.raw(keepAlive ? "\r\nConnection: keep-alive\r\n" : "\r\nConnection: close\r\n")
        for (name, value) in headers {
            w.rawBytes(name.utf8); w.raw(": "); w.rawBytes(value.utf8); w.raw("\r\n")
        }
        w.raw("\r\n")
        w.rawBytes(body)
        return w.bytes
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 413: return "Content Too Large"
        case 415: return "Unsupported Media Type"
        case 426: return "Upgrade Required"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 503: return "Service Unavailable"
        default: return "Status"
        }
    }
}
