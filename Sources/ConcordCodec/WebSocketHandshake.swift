// The only file that imports Crypto, so the fuzz builds compile the codec without package dependencies.
import Crypto

/// Why a WebSocket upgrade request was refused, with the HTTP response it calls for.
public enum HTTPHandshakeError: Error, Equatable, Sendable {
    case methodNotGet(String)
    case httpVersionTooOld(major: Int, minor: Int)
    case missingHost
    case missingUpgradeWebSocket
    case missingConnectionUpgrade
    /// The `Sec-WebSocket-Version` sent (nil when absent); only 13 is spoken.
    case unsupportedVersion(String?)
    case invalidKey

    /// 426 Upgrade Required for an unsupported version (RFC 6455 section 4.4), 400 otherwise.
    public var status: Int {
        if case .unsupportedVersion = self { return 426 }
        return 400
    }

    /// Headers the error response must carry: the versions we speak, with a 426.
    public var responseHeaders: [(name: String, value: String)] {
        if case .unsupportedVersion = self { return [(name: "Sec-WebSocket-Version", value: "13")] }
        return []
    }

    /// A one-line explanation for the error body.
    public var message: String {
        switch self {
        case .methodNotGet(let method): return "a WebSocket upgrade must use GET, not \(method)"
        case .httpVersionTooOld(let major, let minor): return "a WebSocket upgrade needs HTTP/1.1, not HTTP/\(major).\(minor)"
        case .missingHost: return "missing Host header"
        case .missingUpgradeWebSocket: return "missing \"Upgrade: websocket\""
        case .missingConnectionUpgrade: return "missing \"Connection: Upgrade\""
        case .unsupportedVersion: return "only Sec-WebSocket-Version 13 is supported"
        case .invalidKey: return "Sec-WebSocket-Key must be the base64 encoding of 16 bytes"
        }
    }
}

/// The RFC 6455 opening handshake (section 4): checking an upgrade request and answering it.
public enum WebSocketHandshake {
    /// The GUID every accept key is derived with (RFC 6455 section 1.3).
    public static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)).
    public static func acceptKey(for key: String) -> String {
        var hasher = Insecure.SHA1()
        Array((key + guid).utf8).withUnsafeBytes { hasher.update(bufferPointer: $0) }
        return Base64.encode(hasher.finalize())
    }

    /// Checks a request against RFC 6455 section 4.2.1; on success returns the accept key to send.
    public static func validate(_ request: HTTPRequest) -> Result<String, HTTPHandshakeError> {
        guard request.method == "GET" else { return .failure(.methodNotGet(request.method)) }
        let (major, minor) = request.version
        guard major > 1 || (major == 1 && minor >= 1) else {
            return .failure(.httpVersionTooOld(major: major, minor: minor))
        }
        guard request.header("Host") != nil else { return .failure(.missingHost) }
        guard request.headerContainsToken("Upgrade", "websocket") else { return .failure(.missingUpgradeWebSocket) }
        guard request.headerContainsToken("Connection", "upgrade") else { return .failure(.missingConnectionUpgrade) }
        let version = request.header("Sec-WebSocket-Version")
        guard let version, HTTPHeaderFields.trimmed(Substring(version)) == "13" else {
            return .failure(.unsupportedVersion(version))
        }
        guard let key = request.header("Sec-WebSocket-Key").map({ HTTPHeaderFields.trimmed(Substring($0)) }),
            Base64.isEncoding(ofByteCount: 16, key)
        else {
            return .failure(.invalidKey)
        }
        return .success(acceptKey(for: String(key)))
    }

    /// The complete `101 Switching Protocols` response for an accepted upgrade.
    public static func response(accept: String) -> [UInt8] {
        Array(
            ("HTTP/1.1 101 Switching Protocols\r\n"
                + "Upgrade: websocket\r\n"
                + "Connection: Upgrade\r\n"
                + "Sec-WebSocket-Accept: \(accept)\r\n"
                + "\r\n").utf8)
    }

    /// A client's upgrade request; `key` is from `makeClientKey()` and `path` includes any query.
    public static func clientRequest(host: String, path: String, key: String) -> [UInt8] {
        Array(
            ("GET \(path) HTTP/1.1\r\n"
                + "Host: \(host)\r\n"
                + "Upgrade: websocket\r\n"
                + "Connection: Upgrade\r\n"
                + "Sec-WebSocket-Key: \(key)\r\n"
                + "Sec-WebSocket-Version: 13\r\n"
                + "\r\n").utf8)
    }
}
