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

    func serialized(keepAlive: Bool) -> [UInt8] {
        var head = "HTTP/1.1 \(status) \(Self.reason(status))\r\n"
        head += "Content-Type: \(contentType)\r\n"
        head += "Content-Length: \(body.count)\r\n"
        head += keepAlive ? "Connection: keep-alive\r\n" : "Connection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        return Array(head.utf8) + body
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
