import Foundation

/// The reference JavaScript client: the entry module (`protocol/concord.js`) and the modules of
/// `client/` it imports, bundled so `GET /v1/client.js` and `GET /v1/client/NAME.js` serve them.
enum ClientScript {
    static let entryPath = "/v1/client.js"
    /// Where the entry's relative imports (`./client/NAME.js`) land.
    static let modulePrefix = "/v1/client/"

    /// Every file by the path it is served at, read once (the first `load()`, at server start).
    /// Requests only look paths up here, so no request path ever reaches the file system.
    private static let files: [String: [UInt8]] = read()

    /// The entry module, served at `/v1/client.js`.
    static func load() -> [UInt8] {
        files[entryPath] ?? Array("console.error('concord: client.js missing from this build');\n".utf8)
    }

    /// The module served at `path` (`/v1/client/NAME.js`), or nil when there is none by that name.
    static func module(at path: String) -> [UInt8]? {
        path.hasPrefix(modulePrefix) ? files[path] : nil
    }

    /// How the entry and its modules are served: cross-origin, as an app on another origin imports them.
    static func response(_ body: [UInt8]) -> HTTPResponse {
        HTTPResponse(
            status: 200, contentType: "text/javascript; charset=utf-8",
            headers: [("Access-Control-Allow-Origin", "*")], body: body)
    }

    private static func read() -> [String: [UInt8]] {
        var files: [String: [UInt8]] = [:]
        files[entryPath] = EmbeddedResources.files["concord.js"]
        for (path, bytes) in EmbeddedResources.files where path.hasPrefix("client/") && path.hasSuffix(".js") {
            files[modulePrefix + path.dropFirst("client/".count)] = bytes
        }
        return files
    }
}
