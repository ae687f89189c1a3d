import Foundation
import ConcordAuth
import ConcordCore
import ConcordRedis
import ConcordSQLite

/// Everything `concord serve` can be told, with a default for every field.
///
/// Flags and environment variables (read by the `concord` executable):
/// `--host` / `CONCORD_HOST`, `--port` / `CONCORD_PORT`, `--api-key` / `CONCORD_API_KEYS` (comma separated),
/// `--client-publish` / `CONCORD_CLIENT_PUBLISH` (comma separated patterns), `--dev` / `CONCORD_DEV`,
/// `--max-message-bytes`, `--max-subscriptions`, `--max-queue-bytes`, `--max-body-bytes`,
/// `--ping-interval`, `--idle-timeout`, `--max-presence-members`, `--typing-ttl`, the token,
/// origin and limit flags (each also as `CONCORD_` plus the flag in upper snake case); the README's
/// configuration table lists them all.
public struct ServerConfiguration: @unchecked Sendable {
    public var host = "127.0.0.1"
    public var port = 7700
    /// Keys a backend presents as `Authorization: Bearer KEY` to use the HTTP API.
    public var apiKeys: [String] = []
    /// A file of further API keys, one per line, read at start and again on SIGHUP (rotation).
    public var apiKeysFile: String?
    /// Keys that sign connection tokens, given inline (`CONCORD_JWT_SECRET`, tests). With none here
    /// and no key files, connections are anonymous (or dev-mode users).
    public var tokenKeys = TokenKeySources()
    /// Files of token keys, read at start and again on SIGHUP (key rotation without a restart).
    public var tokenKeyFiles = TokenKeyFiles()
    public var tokenRules = TokenClaimRules()
    /// With token keys configured, still accept connections without a token, as anonymous.
    public var allowAnonymous = false
    /// How long before a token expires the server pushes `token.expiring`.
    public var tokenNoticeMilliseconds: Int64 = 60_000
    /// Channels where WebSocket clients may publish; empty by default, so browsers publish nowhere.
    public var clientPublish: [ChannelPattern] = []
    /// Channels every connection may subscribe to without a grant in its token. Nil: everywhere
    /// when no token key is configured (an open, read-only server), nowhere when one is.
    public var publicSubscribe: [ChannelPattern]?
    /// Browser origins allowed to open a WebSocket (`https://app.example.com`, `https://*.example.com`).
    /// Empty: any origin.
    public var allowedOrigins: [String] = []
    /// Development mode: `?user=` names the connection's user. Loudly announced at start.
    public var developmentMode = false
    /// Serve the demo app at `/demo`. Nil: on in development mode, off otherwise.
    public var demo: Bool?
    public var demoEnabled: Bool { !echoOnly && (demo ?? developmentMode) }
    public var maxMessageBytes = 65_536
    public var maxSubscriptions = 128
    public var maxQueueBytes = 1_048_576
    public var maxBodyBytes = 1_048_576
    public var maxHeaderBytes = 16_384
    public var maxHeaderCount = 100
    public var maxSubscriptionIDs = 1_000
    /// Open TCP connections in total, per client address and (WebSocket) per user; 0 per address
    /// or per user means no limit there (behind a proxy every client has the proxy's address).
    public var maxConnections = 10_000
    public var maxConnectionsPerIP = 1_000
    public var maxConnectionsPerUser = 100
    /// A connection must complete its first HTTP request (or upgrade) within this long.
    public var handshakeTimeoutMilliseconds: UInt64 = 10_000
    /// Publishes per WebSocket connection: a burst, then a steady rate per second.
    public var publishBurst = 20
    public var publishPerSecond = 10.0
    /// Commits (and deletes) per user over WebSockets, across the user's connections.
    public var commitBurst = 20
    public var commitPerSecond = 10.0
    /// A connection silent this long is pinged.
    public var pingIntervalMilliseconds: UInt64 = 4_000
    /// A connection that sends nothing (not even a pong) for this long is dropped as dead, and its
    /// presence leaves: the worst case for a vanished client.
    public var idleTimeoutMilliseconds: UInt64 = 9_000
    /// Members listed in a presence snapshot; the total is always given.
    public var maxPresenceMembers = 100
    /// A typing signal not refreshed within this long stops.
    public var typingTTLMilliseconds: UInt64 = 3_000
    /// Typing signals per connection: a burst, then a steady rate per second.
    public var typingBurst = 10
    public var typingPerSecond = 5.0
    /// Backend presence entries live this long unless the request says otherwise.
    public var defaultPresenceTTLMilliseconds: Int64 = 30_000
    public static let maxPresenceTTLMilliseconds: Int64 = 86_400_000
    /// Where accepted commits are stored; nil keeps them in memory only (chosen explicitly).
    public var dataDirectory: String? = "concord-data"
    /// Records kept in memory (the working set); others are read from the store when used. Records
    /// with writes not yet durable stay beyond it. About 1.6 KB each for a record of five fields.
    public var recordCacheSize = 50_000
    /// Actors one record's version vector keeps before the oldest fold into `~`.
    public var maxRecordActors = 32
    /// Where the server reads the time; nil: the real clocks. Tests give a clock they drive.
    public var clock: (any ServerClock)?
    /// Makes the broker; nil: the in-memory broker of one node, with `history` and `maxRecovery`.
    /// Called once, on the loop thread, as the server starts.
    public var makeBroker: (() -> any Broker)?
    /// How much history each channel keeps for recovery (`--history PATTERN=EVENTS/AGE`).
    public var history = HistoryPolicy()
    /// The most missed events one subscription recovers; past it the client refetches
    /// (`--max-recovery`).
    public var maxRecovery = 1000
    /// On SIGTERM, clients are told to come back after a random delay up to this many milliseconds,
    /// so that they do not all return at once (`--drain-window`).
    public var drainWindowMilliseconds: Int64 = 5_000
    /// The Redis several nodes share (`--redis`, `CONCORD_REDIS_URL`): channels, history,
    /// presence, typing and records live there, and the data directory is not used. Nil: one node
    /// on its own.
    public var redis: RedisAddress?
    /// Starts on a Redis that does not make every write durable before it answers (`appendonly yes`
    /// with `appendfsync always`): an acknowledged commit may then be lost if Redis crashes
    /// (`--redis-weak-durability`).
    public var redisWeakDurability = false
    /// How long a Redis command may take before the connection is dropped and the command fails.
    public var redisTimeoutMilliseconds: Int64 = 2_000
    /// The most events one `GET /v1/history` answers.
    public static let maxHistoryPage = 1000
    /// Echo mode answers every WebSocket message with itself: only for the conformance suite.
    public var echoOnly = false

    public init() {}

    /// The subscribe patterns every connection has, after the default described at `publicSubscribe`.
    var effectivePublicSubscribe: [ChannelPattern] {
        publicSubscribe ?? (hasTokenKeys ? [] : [ChannelPattern("*")])
    }

    /// Whether connections are checked against token keys (inline or from files).
    public var hasTokenKeys: Bool { !tokenKeys.isEmpty || !tokenKeyFiles.isEmpty }

    /// The inline keys plus those read from the key files now.
    func readTokenKeys() throws -> TokenKeySources {
        var keys = tokenKeys
        func read(_ path: String, _ what: String) throws -> String {
            do {
                return try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw ConfigurationError("cannot read the \(what) file \(path): \(error.localizedDescription)")
            }
        }
        for path in tokenKeyFiles.secretFiles {
            keys.hmacSecrets.append(try read(path, "JWT secret").trimmingCharacters(in: .whitespacesAndNewlines))
        }
        for path in tokenKeyFiles.publicKeyFiles { keys.publicKeyPEMs.append(try read(path, "public key")) }
        for path in tokenKeyFiles.jwksFiles { keys.jwksDocuments.append(try read(path, "JWKS")) }
        return keys
    }

    /// Where channel streams outlive the process: the data directory, or nowhere with `--memory`.
    /// Opened after the record store, which locks the directory.
    func makeHistoryJournal() throws -> any HistoryJournal {
        guard let dataDirectory, !echoOnly, redis == nil else { return NoHistoryJournal() }
        return try SQLiteHistoryJournal(directory: dataDirectory)
    }

    /// The configured record store: SQLite in the data directory, or memory.
    func makeRecordStore() throws -> any RecordStore {
        guard let dataDirectory, !echoOnly else { return MemoryRecordStore() }
        return try SQLiteRecordStore.open(directory: dataDirectory)
    }
}

/// Where token keys are read from: HS256 secret files, PEM public keys, JWKS documents.
public struct TokenKeyFiles: Sendable, Equatable {
    public var secretFiles: [String] = []
    public var publicKeyFiles: [String] = []
    public var jwksFiles: [String] = []

    public init(secretFiles: [String] = [], publicKeyFiles: [String] = [], jwksFiles: [String] = []) {
        self.secretFiles = secretFiles
        self.publicKeyFiles = publicKeyFiles
        self.jwksFiles = jwksFiles
    }

    public var isEmpty: Bool { secretFiles.isEmpty && publicKeyFiles.isEmpty && jwksFiles.isEmpty }
}
