import CHiredis
import ConcordUV

/// One connection to Redis whose I/O runs on Concord's own loop (hiredis's libuv adapter): no thread
/// of its own, and every callback on the loop thread. hiredis 0.14 speaks RESP2, so a connection is
/// either for commands or for pub/sub (`Mode`), never both.
///
/// hiredis's sharp edges, handled here: on a disconnect every pending callback gets a NULL reply
/// (each command then fails with the disconnect's reason); a lost connection is never reused (the
/// owner connects a new one); and hiredis has no timeouts for asynchronous commands, so this type
/// keeps its own: when the oldest command waits past `timeoutMilliseconds`, the connection is
/// dropped and everything pending fails with `timed out`.
public final class RedisConnection {
    public enum Mode: Sendable {
        case commands
        /// SUBSCRIBE and its messages (`onMessage`) only.
        case pubSub
    }

    public struct Failure: Error, Equatable, Sendable {
        public var reason: String
        public init(_ reason: String) { self.reason = reason }
    }

    public typealias Done = (Result<RedisReply, Failure>) -> Void

    /// A command waiting for its reply: handed to hiredis as privdata, retained until the reply.
    /// It holds the connection's `Drop` rather than the connection: hiredis may call back after
    /// the connection object is gone (a context freed from inside a callback is freed later).
    private final class Pending {
        let done: Done
        let drop: Drop
        init(done: @escaping Done, drop: Drop) {
            self.done = done
            self.drop = drop
        }
    }

    /// Why the connection was dropped, for the callbacks hiredis then calls with NULL.
    private final class Drop {
        var failure: Failure?
    }

    public let mode: Mode
    /// `host:port`, for messages.
    public let address: String
    private let loop: EventLoop
    private let now: () -> Int64
    private let timeoutMilliseconds: Int64
    private var context: UnsafeMutablePointer<redisAsyncContext>?
    /// When each command in flight was sent, oldest first (Redis answers in order).
    private var sentAt: [Int64] = []
    private var sentHead = 0
    private var timer: LoopTimer?
    private let dropReason = Drop()
    private var dropping: Failure? { dropReason.failure }
    private var connectDone: ((Result<Void, Failure>) -> Void)?

    /// The connection went (Redis closed it, the network failed, a timeout): it is not reused.
    public var onDisconnect: ((Failure) -> Void)?
    /// A pub/sub message: its channel and payload.
    public var onMessage: ((String, [UInt8]) -> Void)?
    /// Redis confirmed a subscription: from here on, every message published on it arrives.
    public var onSubscribed: ((String) -> Void)?

    public private(set) var isConnected = false

    /// Connects; `done` runs on the loop thread once the connection is up or has failed.
    public init(
        loop: EventLoop, host: String, port: Int, mode: Mode = .commands, timeoutMilliseconds: Int64 = 2_000,
        now: @escaping () -> Int64, done: @escaping (Result<Void, Failure>) -> Void
    ) {
        self.loop = loop
        self.mode = mode
        address = "\(host):\(port)"
        self.now = now
        self.timeoutMilliseconds = timeoutMilliseconds
        connectDone = done
        guard let context = redisAsyncConnect(host, Int32(port)) else {
            fail(Failure("cannot allocate a Redis connection"))
            return
        }
        if context.pointee.err != 0 {
            let reason = String(cString: context.pointee.errstr)
            redisAsyncFree(context)
            fail(Failure("cannot connect to Redis at \(host):\(port): \(reason)"))
            return
        }
        self.context = context
        context.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        guard concord_redis_attach(context, loop.uvLoop) == REDIS_OK else {
            self.context = nil
            redisAsyncFree(context)
            fail(Failure("cannot attach the Redis connection to the loop"))
            return
        }
        redisAsyncSetConnectCallback(context) { context, status in
            RedisConnection.owner(of: context)?.connected(status: status)
        }
        redisAsyncSetDisconnectCallback(context) { context, status in
            RedisConnection.owner(of: context)?.disconnected(status: status)
        }
        timer = try? LoopTimer(loop: loop)
        timer?.unref()
        // A connect that never completes is a timeout too.
        sentAt.append(now())
        armTimer()
    }

    deinit {
        close()
    }

    private static func owner(of context: UnsafePointer<redisAsyncContext>?) -> RedisConnection? {
        guard let data = context?.pointee.data else { return nil }
        return Unmanaged<RedisConnection>.fromOpaque(data).takeUnretainedValue()
    }

    private func fail(_ failure: Failure) {
        let done = connectDone
        connectDone = nil
        done?(.failure(failure))
    }

    private func connected(status: Int32) {
        popSent()
        guard status == REDIS_OK, let context else {
            let reason = context.map { String(cString: $0.pointee.errstr) } ?? "connection failed"
            // hiredis frees the context after a failed connect.
            self.context = nil
            stopTimer()
            return fail(Failure("cannot connect to Redis at \(address): \(reason)"))
        }
        isConnected = true
        let done = connectDone
        connectDone = nil
        done?(.success(()))
    }

    private func disconnected(status: Int32) {
        // hiredis frees the context once this returns.
        let failure =
            dropping
            ?? Failure(
                status == REDIS_OK ? "the connection was closed" : "the connection was lost: \(context.map { String(cString: $0.pointee.errstr) } ?? "")")
        context = nil
        let wasConnected = isConnected
        isConnected = false
        stopTimer()
        sentAt = []
        sentHead = 0
        if connectDone != nil { return fail(failure) }
        if wasConnected { onDisconnect?(failure) }
    }

    // MARK: Commands

    /// Sends a command (its arguments as bytes); `done` gets the reply, or why there is none.
    public func send(_ arguments: [[UInt8]], done: @escaping Done) {
        guard mode == .commands else { return done(.failure(Failure("a pub/sub connection takes no commands"))) }
        command(arguments, done: done)
    }

    /// A command on either kind of connection, before a pub/sub one subscribes (AUTH).
    func handshakeCommand(_ arguments: [String], done: @escaping Done) {
        command(arguments.map { Array($0.utf8) }, done: done)
    }

    private func command(_ arguments: [[UInt8]], done: @escaping Done) {
        guard let context, isConnected else { return done(.failure(dropping ?? Failure("not connected to Redis"))) }
        let pending = Unmanaged.passRetained(Pending(done: done, drop: dropReason)).toOpaque()
        let status = Self.withArgv(arguments) { argc, argv, lengths in
            redisAsyncCommandArgv(
                context,
                { context, reply, privdata in
                    guard let privdata else { return }
                    let pending = Unmanaged<Pending>.fromOpaque(privdata).takeRetainedValue()
                    let owner = RedisConnection.owner(of: context)
                    owner?.popSent()
                    if let reply {
                        pending.done(.success(RedisReply(reply.assumingMemoryBound(to: redisReply.self))))
                    } else {
                        pending.done(.failure(pending.drop.failure ?? Failure("the connection to Redis was lost")))
                    }
                }, pending, argc, argv, lengths)
        }
        guard status == REDIS_OK else {
            Unmanaged<Pending>.fromOpaque(pending).release()
            return done(.failure(Failure("Redis refused the command on this connection")))
        }
        sentAt.append(now())
        armTimer()
    }

    /// `send` with text arguments.
    public func send(_ arguments: [String], done: @escaping Done) {
        send(arguments.map { Array($0.utf8) }, done: done)
    }

    // MARK: Pub/sub

    /// Subscribes to channels; their messages reach `onMessage`.
    public func subscribe(_ channels: [String]) {
        pubSubCommand(["SUBSCRIBE"] + channels)
    }

    public func unsubscribe(_ channels: [String]) {
        pubSubCommand(["UNSUBSCRIBE"] + channels)
    }

    private func pubSubCommand(_ arguments: [String]) {
        guard mode == .pubSub, let context, isConnected else { return }
        // One callback for every reply of the subscription, with this connection as its privdata:
        // hiredis keeps it for the channel's lifetime, and calls it with NULL when the context goes.
        _ = Self.withArgv(arguments.map { Array($0.utf8) }) { argc, argv, lengths in
            redisAsyncCommandArgv(
                context,
                { context, reply, _ in
                    guard let reply, let owner = RedisConnection.owner(of: context) else { return }
                    owner.pubSubReply(RedisReply(reply.assumingMemoryBound(to: redisReply.self)))
                }, nil, argc, argv, lengths)
        }
    }

    private func pubSubReply(_ reply: RedisReply) {
        guard case .array(let parts) = reply, parts.count == 3, let channel = parts[1].text else { return }
        switch (parts[0].text, parts[2]) {
        case ("message", .bulk(let payload)): onMessage?(channel, payload)
        case ("subscribe", _): onSubscribed?(channel)
        default: break
        }
    }

    // MARK: Closing and timeouts

    /// Drops the connection now: everything pending fails with "closed".
    public func close() {
        drop(Failure("the connection was closed"))
        timer?.close()
        timer = nil
    }

    private func drop(_ failure: Failure) {
        guard let context else { return }
        dropReason.failure = failure
        // From here hiredis must not reach this object: it may be freed before hiredis frees the
        // context (which happens later when this runs inside one of its callbacks).
        context.pointee.data = nil
        redisAsyncFree(context)
        self.context = nil
        isConnected = false
    }

    private func popSent() {
        guard sentHead < sentAt.count else { return }
        sentHead += 1
        if sentHead == sentAt.count {
            sentAt.removeAll(keepingCapacity: true)
            sentHead = 0
            stopTimer()
        }
    }

    private var timerArmed = false

    private func armTimer() {
        guard !timerArmed, let timer else { return }
        timerArmed = true
        let period = UInt64(max(5, timeoutMilliseconds / 4))
        timer.start(afterMilliseconds: period, repeatMilliseconds: period) { [unowned self] in checkTimeout() }
    }

    private func stopTimer() {
        guard timerArmed else { return }
        timerArmed = false
        timer?.stop()
    }

    private func checkTimeout() {
        guard sentHead < sentAt.count else { return stopTimer() }
        guard now() - sentAt[sentHead] >= timeoutMilliseconds else { return }
        // hiredis's libuv adapter ignores poll errors, so a refused connect shows only as silence.
        let failure =
            connectDone != nil
            ? Failure("cannot connect to Redis at \(address): no connection within \(timeoutMilliseconds) ms")
            : Failure("Redis did not answer within \(timeoutMilliseconds) ms")
        let wasConnected = isConnected
        drop(failure)
        stopTimer()
        if connectDone != nil { fail(failure) } else if wasConnected { onDisconnect?(failure) }
    }

    /// Calls `body` with C argv arrays over `arguments`, valid for the call.
    static func withArgv<Result>(
        _ arguments: [[UInt8]], _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> Result
    ) -> Result {
        let buffers = arguments.map { bytes -> UnsafeMutablePointer<CChar> in
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: max(bytes.count, 1))
            bytes.withUnsafeBufferPointer { source in
                if let base = source.baseAddress {
                    UnsafeMutableRawPointer(buffer).copyMemory(from: base, byteCount: bytes.count)
                }
            }
            return buffer
        }
        defer { buffers.forEach { $0.deallocate() } }
        var argv = buffers.map { UnsafePointer<CChar>?($0) }
        let lengths = arguments.map(\.count)
        return argv.withUnsafeMutableBufferPointer { argvBuffer in
            lengths.withUnsafeBufferPointer { lengthsBuffer in
                body(Int32(arguments.count), argvBuffer.baseAddress!, lengthsBuffer.baseAddress!)
            }
        }
    }
}
