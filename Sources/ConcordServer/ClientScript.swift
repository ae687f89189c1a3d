import Foundation

/// The reference JavaScript client (`protocol/concord.js`), bundled so `GET /v1/client.js` serves it.
enum ClientScript {
    static func load() -> [UInt8] {
        if let url = Bundle.module.url(forResource: "concord", withExtension: "js"),
           let data = try? Data(contentsOf: url) {
            return Array(data)
        }
        return Array("console.error('concord: client.js missing from this build');\n".utf8)
    }
}
