/// One setting of `concord serve`: its flag, its `CONCORD_*` variable and its configuration-file key.
///
/// The file key is always the flag's name without its dashes (`--max-queue-bytes` is
/// `max-queue-bytes`). Two names are outside this table: `--config` (`CONCORD_CONFIG`), which names
/// the file, and `CONCORD_JWT_SECRET`, which holds a secret itself rather than naming its file, and so
/// has no flag and no file key.
struct SettingKey: Equatable {
    /// What the file must hold for the key; environment variables are text and are parsed.
    enum Kind: Equatable {
        case string
        /// A whole number, 0 or more.
        case int
        /// A number above 0; a TOML integer is accepted too.
        case double
        case bool
        /// An array of strings in the file; comma separated in the environment.
        case list

        var description: String {
            switch self {
            case .string: return "a string"
            case .int: return "an integer, 0 or more"
            case .double: return "a number above 0"
            case .bool: return "true or false"
            case .list: return "an array of strings"
            }
        }
    }

    /// The flag without its dashes, and the key in the configuration file.
    let flag: String
    let environment: String
    let kind: Kind

    init(_ flag: String, _ environment: String, _ kind: Kind) {
        self.flag = flag
        self.environment = environment
        self.kind = kind
    }

    var fileKey: String { flag }
}

extension SettingKey {
    /// Every flag of `concord serve` but `--config`, in the order of README's Configuration table.
    static let all: [SettingKey] = [
        SettingKey("host", "CONCORD_HOST", .string),
        SettingKey("port", "CONCORD_PORT", .int),
        SettingKey("api-key", "CONCORD_API_KEYS", .list),
        SettingKey("api-keys-file", "CONCORD_API_KEYS_FILE", .string),
        SettingKey("client-publish", "CONCORD_CLIENT_PUBLISH", .list),
        SettingKey("dev", "CONCORD_DEV", .bool),
        SettingKey("demo", "CONCORD_DEMO", .bool),
        SettingKey("dev-allow-remote", "CONCORD_DEV_ALLOW_REMOTE", .bool),
        SettingKey("jwt-secret-file", "CONCORD_JWT_SECRET_FILE", .list),
        SettingKey("jwt-public-key", "CONCORD_JWT_PUBLIC_KEY", .list),
        SettingKey("jwks-file", "CONCORD_JWKS_FILE", .list),
        SettingKey("jwt-audience", "CONCORD_JWT_AUDIENCE", .string),
        SettingKey("jwt-issuer", "CONCORD_JWT_ISSUER", .string),
        SettingKey("jwt-leeway", "CONCORD_JWT_LEEWAY", .int),
        SettingKey("token-notice", "CONCORD_TOKEN_NOTICE", .int),
        SettingKey("allow-anonymous", "CONCORD_ALLOW_ANONYMOUS", .bool),
        SettingKey("public-subscribe", "CONCORD_PUBLIC_SUBSCRIBE", .list),
        SettingKey("allowed-origin", "CONCORD_ALLOWED_ORIGINS", .list),
        SettingKey("max-message-bytes", "CONCORD_MAX_MESSAGE_BYTES", .int),
        SettingKey("max-subscriptions", "CONCORD_MAX_SUBSCRIPTIONS", .int),
        SettingKey("max-subscription-ids", "CONCORD_MAX_SUBSCRIPTION_IDS", .int),
        SettingKey("max-queue-bytes", "CONCORD_MAX_QUEUE_BYTES", .int),
        SettingKey("max-body-bytes", "CONCORD_MAX_BODY_BYTES", .int),
        SettingKey("max-header-bytes", "CONCORD_MAX_HEADER_BYTES", .int),
        SettingKey("max-header-count", "CONCORD_MAX_HEADER_COUNT", .int),
        SettingKey("max-connections", "CONCORD_MAX_CONNECTIONS", .int),
        SettingKey("max-connections-per-ip", "CONCORD_MAX_CONNECTIONS_PER_IP", .int),
        SettingKey("max-connections-per-user", "CONCORD_MAX_CONNECTIONS_PER_USER", .int),
        SettingKey("handshake-timeout", "CONCORD_HANDSHAKE_TIMEOUT", .int),
        SettingKey("publish-rate", "CONCORD_PUBLISH_RATE", .double),
        SettingKey("publish-burst", "CONCORD_PUBLISH_BURST", .int),
        SettingKey("typing-rate", "CONCORD_TYPING_RATE", .double),
        SettingKey("typing-burst", "CONCORD_TYPING_BURST", .int),
        SettingKey("commit-rate", "CONCORD_COMMIT_RATE", .double),
        SettingKey("commit-burst", "CONCORD_COMMIT_BURST", .int),
        SettingKey("ping-interval", "CONCORD_PING_INTERVAL", .int),
        SettingKey("idle-timeout", "CONCORD_IDLE_TIMEOUT", .int),
        SettingKey("max-presence-members", "CONCORD_MAX_PRESENCE_MEMBERS", .int),
        SettingKey("typing-ttl", "CONCORD_TYPING_TTL", .int),
        SettingKey("data-dir", "CONCORD_DATA_DIR", .string),
        SettingKey("memory", "CONCORD_MEMORY", .bool),
        SettingKey("record-cache", "CONCORD_RECORD_CACHE", .int),
        SettingKey("history", "CONCORD_HISTORY", .list),
        SettingKey("max-recovery", "CONCORD_MAX_RECOVERY", .int),
        SettingKey("drain-window", "CONCORD_DRAIN_WINDOW", .int),
        SettingKey("redis", "CONCORD_REDIS_URL", .string),
        SettingKey("redis-weak-durability", "CONCORD_REDIS_WEAK_DURABILITY", .bool),
        SettingKey("redis-timeout", "CONCORD_REDIS_TIMEOUT", .int),
        SettingKey("max-record-actors", "CONCORD_MAX_RECORD_ACTORS", .int),
        SettingKey("log-level", "CONCORD_LOG_LEVEL", .string),
    ]

    static let byFileKey = Dictionary(uniqueKeysWithValues: all.map { ($0.fileKey, $0) })
    static let byEnvironment = Dictionary(uniqueKeysWithValues: all.map { ($0.environment, $0) })

    /// The variable that names the configuration file, as `--config` does.
    static let configFileEnvironment = "CONCORD_CONFIG"
    /// An HS256 secret itself, used beside those of `--jwt-secret-file`: kept out of files on purpose.
    static let jwtSecretEnvironment = "CONCORD_JWT_SECRET"
}
