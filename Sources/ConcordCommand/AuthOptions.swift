import ArgumentParser
import ConcordAuth
import ConcordCore
import ConcordServer
import Foundation

/// Who may connect: tokens, origins, API keys and development mode.
struct AuthOptions: ParsableArguments {
    @Option(
        name: .customLong("jwt-secret-file"),
        help:
            "File holding an HS256 secret (32+ bytes) that signs connection tokens; repeatable; key files are re-read on SIGHUP (env CONCORD_JWT_SECRET_FILE, comma separated; CONCORD_JWT_SECRET holds one secret itself)."
    )
    var jwtSecretFiles: [String] = []

    @Option(
        name: .customLong("jwt-public-key"),
        help: "PEM public key (RSA for RS256, EC P-256 for ES256) that verifies tokens; repeatable (env CONCORD_JWT_PUBLIC_KEY).")
    var jwtPublicKeys: [String] = []

    @Option(name: .customLong("jwks-file"), help: "JWKS file of public keys, chosen by the token's kid; repeatable (env CONCORD_JWKS_FILE).")
    var jwksFiles: [String] = []

    @Option(name: .customLong("jwt-audience"), help: "Tokens must list this audience in aud (env CONCORD_JWT_AUDIENCE).")
    var jwtAudience: String?

    @Option(name: .customLong("jwt-issuer"), help: "Tokens must have this iss (env CONCORD_JWT_ISSUER).")
    var jwtIssuer: String?

    @Option(name: .customLong("jwt-leeway"), help: "Seconds of clock skew forgiven on exp and nbf (env CONCORD_JWT_LEEWAY). Default 5.")
    var jwtLeeway: Int?

    @Option(
        name: .customLong("token-notice"),
        help: "Milliseconds before a token expires that the server asks for a fresh one (env CONCORD_TOKEN_NOTICE). Default 60000.")
    var tokenNotice: Int?

    @Flag(
        name: .customLong("allow-anonymous"),
        help: "With token keys configured, still accept connections without a token, as anonymous (env CONCORD_ALLOW_ANONYMOUS=1).")
    var allowAnonymous = false

    @Option(
        name: .customLong("public-subscribe"),
        help: "Channel pattern every connection may subscribe to; repeatable (env CONCORD_PUBLIC_SUBSCRIBE). Default: '*' without token keys, none with them.")
    var publicSubscribe: [String] = []

    @Option(
        name: .customLong("allowed-origin"),
        help:
            "Browser origin allowed to connect, e.g. https://app.example.com or https://*.example.com; repeatable (env CONCORD_ALLOWED_ORIGINS, comma separated). Default: any."
    )
    var allowedOrigins: [String] = []

    @Option(name: .customLong("api-keys-file"), help: "File of API keys, one per line, re-read on SIGHUP (env CONCORD_API_KEYS_FILE).")
    var apiKeysFile: String?

    @Flag(name: .customLong("dev-allow-remote"), help: "Allow --dev on an address other than loopback (env CONCORD_DEV_ALLOW_REMOTE=1). Dangerous.")
    var devAllowRemote = false

    func apply(to config: inout ServerConfiguration, settings: Settings) throws {
        var keys = TokenKeySources()
        if let secret = settings.string(SettingKey.jwtSecretEnvironment) { keys.hmacSecrets.append(secret) }
        config.tokenKeys = keys
        // Files are read by the server, at start and again on SIGHUP.
        config.tokenKeyFiles = TokenKeyFiles(
            secretFiles: jwtSecretFiles.isEmpty ? settings.list("CONCORD_JWT_SECRET_FILE") : jwtSecretFiles,
            publicKeyFiles: jwtPublicKeys.isEmpty ? settings.list("CONCORD_JWT_PUBLIC_KEY") : jwtPublicKeys,
            jwksFiles: jwksFiles.isEmpty ? settings.list("CONCORD_JWKS_FILE") : jwksFiles)
        config.tokenRules.audience = jwtAudience ?? settings.string("CONCORD_JWT_AUDIENCE")
        config.tokenRules.issuer = jwtIssuer ?? settings.string("CONCORD_JWT_ISSUER")
        config.tokenRules.leewaySeconds = Int64(try jwtLeeway ?? settings.int("CONCORD_JWT_LEEWAY") ?? Int(config.tokenRules.leewaySeconds))
        config.tokenNoticeMilliseconds = Int64(try tokenNotice ?? settings.int("CONCORD_TOKEN_NOTICE") ?? Int(config.tokenNoticeMilliseconds))
        config.allowAnonymous = allowAnonymous || settings.flag("CONCORD_ALLOW_ANONYMOUS")
        let publicPatterns = publicSubscribe.isEmpty ? settings.list("CONCORD_PUBLIC_SUBSCRIBE") : publicSubscribe
        if !publicPatterns.isEmpty { config.publicSubscribe = publicPatterns.map(ChannelPattern.init) }
        config.allowedOrigins = allowedOrigins.isEmpty ? settings.list("CONCORD_ALLOWED_ORIGINS") : allowedOrigins
        config.apiKeysFile = apiKeysFile ?? settings.string("CONCORD_API_KEYS_FILE")

        for pattern in config.clientPublish + (config.publicSubscribe ?? []) where !ChannelPattern.isValid(pattern.text) {
            throw ValidationError("'\(pattern.text)' is not a channel pattern: a channel name, a prefix ending in '*', or '*'")
        }
        if config.developmentMode && !(devAllowRemote || settings.flag("CONCORD_DEV_ALLOW_REMOTE")) && !Self.isLoopback(config.host) {
            throw ValidationError(
                "--dev accepts anyone as any user, so it listens on loopback only (127.0.0.1, ::1, localhost); add --dev-allow-remote to listen on \(config.host) anyway"
            )
        }
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}
