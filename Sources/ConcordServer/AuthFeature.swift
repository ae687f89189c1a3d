import ConcordAuth
import ConcordCodec
import ConcordCore
import Foundation
import Logging

/// Who may connect and as whom: the origin allow-list, tokens (at the upgrade and refreshed over the
/// connection, with their notice and expiry), development-mode users, per-user connection limits,
/// what each connection may do, and the backends' API keys. Owns the keys and the token deadlines.
final class AuthFeature {
    /// Set by the server once it is made; the feature reaches it for connections, time and metrics.
    unowned var server: ConcordServer!
    private let configuration: ServerConfiguration
    private let logger: Logger
    /// Checks connection tokens; nil when no token key is configured. Replaced on SIGHUP.
    private(set) var tokenVerifier: TokenVerifier?
    /// The HS256 secrets loaded now (the demo signs its tokens with the first).
    private(set) var tokenSecrets: [String] = []
    /// What every connection may do whatever its token says (`--client-publish`, `--public-subscribe`).
    let serverGrants: Grants
    /// Keys backends present on the HTTP API; re-read from `--api-keys-file` on SIGHUP.
    private var apiKeys: [String]
    /// Each token-holding connection's next token check: the expiry notice, then the expiry.
    private var tokenDeadlines = ExpiryQueue<Connection>()
    /// The notice and deadline of each token-holding connection's token, kept here rather than in
    /// every connection: most connections of a public page have none.
    private var tokenLifetimes: [ObjectIdentifier: TokenLifetime] = [:]

    /// Reads the keys; throws what stops the server at start (an unreadable or unusable key).
    init(configuration: ServerConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        let tokenKeys = try configuration.readTokenKeys()
        tokenVerifier = configuration.hasTokenKeys ? try TokenVerifier(sources: tokenKeys, rules: configuration.tokenRules) : nil
        tokenSecrets = tokenKeys.hmacSecrets
        serverGrants =
            Grants(.publish, on: configuration.clientPublish)
            + Grants(.subscribe, on: configuration.effectivePublicSubscribe)
        apiKeys = try Self.loadAPIKeys(configuration)
    }

    private var metrics: ServerMetrics { server.metrics }
    private func now() -> Timestamp { server.now() }

    /// Whether the request carries one of the configured API keys as a bearer token.
    func isAuthorizedBackend(_ request: HTTPRequest) -> Bool {
        guard let key = request.bearerToken else { return false }
        return apiKeys.contains { constantTimeEquals($0, key) }
    }

    /// A connection closed: its token checks end.
    func connectionClosed(_ connection: Connection) {
        tokenDeadlines.cancel(connection)
        tokenLifetimes[ObjectIdentifier(connection)] = nil
    }

    /// When the next token check is due (the loop's milliseconds).
    func nextTokenCheck() -> Int64? { tokenDeadlines.nextDeadline() }

    /// The token checks that came due.
    func tokenChecksDue(now ticks: Int64) {
        for connection in tokenDeadlines.popExpired(now: ticks) { tokenDeadlineDue(connection) }
    }

    /// Decides an upgrade request's principal, or the HTTP answer refusing it.
    func admit(_ request: HTTPRequest) -> Admission {
        if let origin = request.header("origin"), !originAllowed(origin) {
            metrics.authFailures.increment()
            return .refused(.error(403, ProtocolError(.forbidden, "origin \(origin.prefix(100)) is not allowed to connect")))
        }
        let principal: Principal
        switch identify(request) {
        case .success(let found): principal = found
        case .failure(let error):
            metrics.authFailures.increment()
            let status = error.code == .badRequest ? 400 : 401
            return .refused(.error(status, error, headers: status == 401 ? [("WWW-Authenticate", "Bearer")] : []))
        }
        if let user = principal.user, configuration.maxConnectionsPerUser > 0,
            server.connections.count(of: user) >= configuration.maxConnectionsPerUser
        {
            metrics.hit(.connectionsPerUser)
            return .refused(
                .error(429, ProtocolError(.tooManyConnections, "user \(user) has \(configuration.maxConnectionsPerUser) connections open, the most allowed")))
        }
        return .admitted(principal)
    }

    /// The token from `?token=` (browsers) or `Authorization: Bearer` (other clients).
    static func token(in request: HTTPRequest) -> String? {
        if let token = request.query["token"], !token.isEmpty { return token }
        return request.bearerToken
    }

    private func identify(_ request: HTTPRequest) -> Result<Principal, ProtocolError> {
        if let token = Self.token(in: request), let verifier = tokenVerifier {
            do {
                return .success(try verifier.verify(token, now: now()))
            } catch {
                return .failure(error)
            }
        }
        if configuration.developmentMode {
            let user = request.query["user"].flatMap { $0.isEmpty ? nil : $0 }
            if let user, user.hasPrefix("~") || user.utf8.count > TokenClaimRules.maxUserBytes {
                return .failure(ProtocolError(.badRequest, "user ids are 1 to 200 bytes and cannot start with \"~\""))
            }
            let name = request.query["name"].flatMap { $0.isEmpty ? nil : $0 }
            return .success(Principal(user: user, name: name, grants: .everything))
        }
        if tokenVerifier != nil && !configuration.allowAnonymous {
            let why = Self.token(in: request) == nil ? "a token is required: connect with ?token=JWT" : "the token cannot be checked"
            return .failure(ProtocolError(.unauthorized, why))
        }
        if Self.token(in: request) != nil {
            return .failure(ProtocolError(.unauthorized, "this server has no token keys configured, so it cannot accept tokens"))
        }
        return .success(.anonymous)
    }

    /// Exact origins, or `scheme://*.domain` for any subdomain of `domain`. No list: any origin.
    func originAllowed(_ origin: String) -> Bool {
        guard !configuration.allowedOrigins.isEmpty else { return true }
        let origin = origin.lowercased()
        return configuration.allowedOrigins.contains { allowed in
            let allowed = allowed.lowercased()
            guard let star = allowed.range(of: "://*.") else { return allowed == origin }
            let scheme = allowed[..<star.lowerBound]
            let domain = allowed[star.upperBound...]
            guard origin.hasPrefix(scheme + "://") else { return false }
            return origin.hasSuffix("." + domain) && origin.count > scheme.count + 3 + domain.count + 1
        }
    }

    /// Checks one action of a connection against its grants and the server's.
    func authorize(_ connection: Connection, _ capabilities: Capabilities, on channel: String) throws(ProtocolError) {
        try connection.session.principal.authorize(capabilities, on: channel, serverGrants: serverGrants)
    }

    // MARK: Token lifetime over an open connection

    /// Schedules the `token.expiring` notice (or, once sent, the expiry) of a connection's token.
    /// Starts the lifetime of the connection's token (at the upgrade, or after `auth`) and
    /// schedules its first check; a connection without a token has none.
    func scheduleTokenDeadline(_ connection: Connection) {
        guard let expiresAt = connection.session.principal.expiresAt else {
            tokenLifetimes[ObjectIdentifier(connection)] = nil
            return tokenDeadlines.cancel(connection)
        }
        let lifetime = TokenLifetime(
            expiresAt: expiresAt, leewayMilliseconds: configuration.tokenRules.leewaySeconds * 1000,
            noticeMilliseconds: configuration.tokenNoticeMilliseconds, now: now())
        tokenLifetimes[ObjectIdentifier(connection)] = lifetime
        scheduleTokenCheck(connection, at: lifetime.nextCheck)
    }

    /// The token checks run on the loop's clock; the lifetime speaks wall-clock time.
    private func scheduleTokenCheck(_ connection: Connection, at time: Timestamp) {
        tokenDeadlines.schedule(connection, at: server.ticks + max(0, time.milliseconds - now().milliseconds))
        server.armDeadlines()
    }

    private func tokenDeadlineDue(_ connection: Connection) {
        let stream = connection.phase == .eventStream
        guard connection.phase == .webSocket || stream, var lifetime = tokenLifetimes[ObjectIdentifier(connection)] else { return }
        let action = lifetime.check(now: now())
        tokenLifetimes[ObjectIdentifier(connection)] = lifetime
        switch action {
        case .expire:
            metrics.tokenExpiries.increment()
            logger.debug("closing c\(connection.number): token expired")
            // An event stream has no close frame and cannot refresh its token: it ends, and
            // EventSource reconnects with the URL's token, which the upgrade checks again.
            if stream { connection.beginClosing() } else { connection.sendClose(code: 4001, reason: "token expired") }
        case .notice(let next):
            if !stream { connection.sendText(ServerFrame.tokenExpiring(expiresAt: lifetime.expiresAt)) }
            scheduleTokenCheck(connection, at: next)
        case .wait(let until):
            scheduleTokenCheck(connection, at: until)
        }
    }

    /// `auth`: a fresh token for the same user replaces the connection's grants and expiry.
    func refreshToken(_ token: String, id: JSONValue?, for connection: Connection) throws(ProtocolError) {
        guard let verifier = tokenVerifier else {
            throw ProtocolError(.unauthorized, "this server has no token keys configured, so it cannot accept tokens")
        }
        let fresh: Principal
        do {
            fresh = try verifier.verify(token, now: now())
        } catch {
            metrics.authFailures.increment()
            throw error
        }
        guard fresh.user == connection.session.principal.user else {
            metrics.authFailures.increment()
            throw ProtocolError(.forbidden, "a refreshed token must name the same user (\(connection.session.principal.user ?? "anonymous"))")
        }
        connection.session.principal = fresh
        metrics.tokenRefreshes.increment()
        connection.sendText(ServerFrame.authed(id: id, user: fresh.user, expiresAt: fresh.expiresAt))
        scheduleTokenDeadline(connection)
    }

    // MARK: API keys

    /// The configured keys plus those in `--api-keys-file`, read now.
    static func loadAPIKeys(_ configuration: ServerConfiguration) throws -> [String] {
        var keys = configuration.apiKeys
        if let path = configuration.apiKeysFile {
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw ConfigurationError("cannot read the API keys file \(path): \(error.localizedDescription)")
            }
            for line in text.split(whereSeparator: \.isNewline) {
                let key = line.trimmingCharacters(in: .whitespaces)
                if !key.isEmpty && !key.hasPrefix("#") { keys.append(key) }
            }
        }
        return keys
    }

    /// SIGHUP: re-reads the token key files (an identity provider rotated its keys, or a secret is
    /// being rotated); keys that cannot be read or used leave the current ones in place.
    func reloadTokenKeys() {
        guard !configuration.tokenKeyFiles.isEmpty else { return }
        do {
            let keys = try configuration.readTokenKeys()
            tokenVerifier = try TokenVerifier(sources: keys, rules: configuration.tokenRules)
            tokenSecrets = keys.hmacSecrets
            logger.info("token keys reloaded: \(keys.hmacSecrets.count) secrets, \(keys.publicKeyPEMs.count) public keys, \(keys.jwksDocuments.count) key sets")
        } catch {
            logger.error("token keys not reloaded, the current ones stay: \(error)")
        }
    }

    /// SIGHUP: re-reads the API keys file; a file that cannot be read leaves the keys as they were.
    func reloadAPIKeys() {
        do {
            apiKeys = try Self.loadAPIKeys(configuration)
            logger.info("API keys reloaded: \(apiKeys.count) configured")
        } catch {
            logger.error("API keys not reloaded: \(error)")
        }
    }
}

/// A configuration the server cannot start with, in a sentence for the operator.
public struct ConfigurationError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Compares secrets without leaking where they differ through timing.
func constantTimeEquals(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    var difference = UInt8(x.count == y.count ? 0 : 1)
    for i in 0..<max(x.count, y.count) {
        difference |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
    }
    return difference == 0
}
