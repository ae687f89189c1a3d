/// Whether Redis keeps what it acknowledged through a crash: the check the server runs at start.
///
/// Concord acknowledges a commit once Redis answered its write, so "acknowledged means durable"
/// holds only with the append-only file synced before every answer (`appendonly yes`,
/// `appendfsync always`). `everysec` loses up to a second of acknowledged commits on a power
/// loss or a `kill -9` of Redis; `no` leaves it to the kernel.
public enum RedisDurability: Equatable, Sendable, CustomStringConvertible {
    /// `appendonly yes` and `appendfsync always`.
    case durable
    /// What Redis has instead.
    case weak(appendonly: String, appendfsync: String)
    /// Redis refused to say (CONFIG disabled or renamed, as managed services often do): why.
    case unknown(String)

    /// Asks Redis with `CONFIG GET` over a blocking connection of the calling thread (start-up).
    /// Throws when Redis cannot be reached at all.
    public static func check(_ node: RedisNode, timeoutMilliseconds: Int = 2_000) throws(RedisBlockingFailure) -> RedisDurability {
        let replies = try node.blocking([["CONFIG", "GET", "appendonly"], ["CONFIG", "GET", "appendfsync"]], timeoutMilliseconds: timeoutMilliseconds)
        var values: [String] = []
        for (name, reply) in zip(["appendonly", "appendfsync"], replies) {
            switch reply {
            case .array(let pair) where pair.count == 2:
                values.append(pair[1].text ?? "")
            case .error(let message):
                return .unknown("CONFIG GET \(name) was refused: \(message)")
            default:
                return .unknown("CONFIG GET \(name) did not name a value (it may be renamed)")
            }
        }
        return values == ["yes", "always"] ? .durable : .weak(appendonly: values[0], appendfsync: values[1])
    }

    public var isDurable: Bool { self == .durable }

    public var description: String {
        switch self {
        case .durable:
            return "Redis syncs every write before answering (appendonly yes, appendfsync always)"
        case .weak(let appendonly, let appendfsync):
            return
                "Redis may lose acknowledged commits in a crash (appendonly \(appendonly), appendfsync \(appendfsync)): "
                + "set appendonly yes and appendfsync always"
        case .unknown(let why):
            return "cannot check that Redis keeps acknowledged commits through a crash: \(why)"
        }
    }
}
