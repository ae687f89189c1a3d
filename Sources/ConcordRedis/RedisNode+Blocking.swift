import CHiredis

#if canImport(Glibc)
    import Glibc
#endif

/// Why a blocking command could not be run: Redis out of reach, or the connection failed.
public struct RedisBlockingFailure: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension RedisNode {
    /// Runs `commands` in order on a short-lived connection of the calling thread, with the node's
    /// address (AUTH, SELECT) and a timeout per command, and answers their replies (an error reply
    /// is a reply, not a failure).
    ///
    /// For start-up steps that must finish before the server listens (the durability check, the
    /// ids the demo lists). hiredis's blocking API rather than running the loop: it needs neither
    /// the node's connection to be up nor the loop to be idle, so it also serves a caller on
    /// another thread while the loop runs (uv_run cannot be entered twice).
    public func blocking(_ commands: [[String]], timeoutMilliseconds: Int = 2_000) throws(RedisBlockingFailure) -> [RedisReply] {
        let address = client.address
        let timeout = timeval(tv_sec: timeoutMilliseconds / 1_000, tv_usec: (timeoutMilliseconds % 1_000) * 1_000)
        guard let context = redisConnectWithTimeout(address.host, Int32(address.port), timeout) else {
            throw RedisBlockingFailure("cannot allocate a Redis connection")
        }
        defer { redisFree(context) }
        guard context.pointee.err == 0 else {
            throw RedisBlockingFailure("cannot connect to Redis at \(address): \(Self.reason(context))")
        }
        redisSetTimeout(context, timeout)
        for step in address.handshakeCommands() {
            if case .error(let message) = try Self.command(context, step, address) {
                throw RedisBlockingFailure("\(step[0]) was refused: \(message)")
            }
        }
        var replies: [RedisReply] = []
        for command in commands { replies.append(try Self.command(context, command, address)) }
        return replies
    }

    private static func command(_ context: UnsafeMutablePointer<redisContext>, _ arguments: [String], _ address: RedisAddress) throws(RedisBlockingFailure)
        -> RedisReply
    {
        let raw = RedisConnection.withArgv(arguments.map { Array($0.utf8) }) { argc, argv, lengths in
            redisCommandArgv(context, argc, argv, lengths)
        }
        guard let raw else { throw RedisBlockingFailure("Redis at \(address) failed: \(reason(context))") }
        defer { freeReplyObject(raw) }
        return RedisReply(raw.assumingMemoryBound(to: redisReply.self))
    }

    private static func reason(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}
