import CLibUV

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Owns a libuv loop, the read buffer all its streams share, and the end-of-turn write flush.
///
/// Everything here runs on the loop's thread; only `LoopAsync.send` may be called from elsewhere.
public final class EventLoop {
    let raw: UnsafeMutablePointer<uv_loop_t>
    /// The `uv_loop_t *`, for C libraries that attach their own I/O to this loop (hiredis's adapter).
    public var uvLoop: UnsafeMutableRawPointer { UnsafeMutableRawPointer(raw) }

    /// Reads are consumed inside the read callback, so one buffer serves every connection: an idle
    /// connection costs no read buffer at all.
    static let readBufferSize = 64 * 1024
    let readBuffer: UnsafeMutableRawPointer

    /// Scratch `uv_buf_t` array for gathering a stream's queued frames into one write.
    var scratch: UnsafeMutablePointer<uv_buf_t>
    var scratchCapacity = 64

    /// Streams with frames queued during this turn; flushed once, after polling for I/O.
    var dirty: [TCPStream] = []
    /// Work deferred to the end of this turn, before the writes go out (group commit uses it).
    private var turnEnd: [() -> Void] = []
    private let check: UnsafeMutablePointer<uv_check_t>
    private let idle: UnsafeMutablePointer<uv_idle_t>
    private var idleActive = false

    public init() throws(UVError) {
        // A peer that goes away while a write is in flight makes write(2) fail with EPIPE, which
        // libuv reports per stream; the signal that comes with it would end the whole process.
        signal(SIGPIPE, SIG_IGN)
        raw = .allocate(capacity: 1)
        try UVError.check(uv_loop_init(raw))
        readBuffer = .allocate(byteCount: Self.readBufferSize, alignment: 16)
        scratch = .allocate(capacity: scratchCapacity)
        check = .allocate(capacity: 1)
        idle = .allocate(capacity: 1)
        raw.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        uv_check_init(raw, check)
        uv_idle_init(raw, idle)
        check.pointee.data = raw.pointee.data
        idle.pointee.data = raw.pointee.data
        // Neither keeps the loop alive on its own.
        uv_unref(UnsafeMutableRawPointer(check).assumingMemoryBound(to: uv_handle_t.self))
        uv_unref(UnsafeMutableRawPointer(idle).assumingMemoryBound(to: uv_handle_t.self))
        uv_check_start(check) { handle in
            EventLoop.from(handle!.pointee.loop).flushDirty()
        }
    }

    static func from(_ loop: UnsafeMutablePointer<uv_loop_t>?) -> EventLoop {
        Unmanaged<EventLoop>.fromOpaque(loop!.pointee.data!).takeUnretainedValue()
    }

    /// Runs until no active handle is left or `stop()` is called.
    public func run() {
        uv_run(raw, UV_RUN_DEFAULT)
    }

    public func stop() {
        uv_stop(raw)
    }

    /// Runs loop turns until `done()` or `timeoutMilliseconds` pass: for start-up steps that
    /// must finish before the server listens (reaching Redis). Answers whether `done()` held.
    public func run(until done: () -> Bool, timeoutMilliseconds: UInt64) -> Bool {
        let deadline = uv_hrtime() / 1_000_000 + timeoutMilliseconds
        while !done() {
            guard uv_hrtime() / 1_000_000 < deadline else { return false }
            // A timer bounds each turn, so that a silent wait still sees the deadline.
            let tick = try? LoopTimer(loop: self)
            tick?.start(afterMilliseconds: 10) {}
            uv_run(raw, UV_RUN_ONCE)
            tick?.close()
        }
        return true
    }

    /// The loop's cached monotonic time in milliseconds, updated once per turn.
    public var now: UInt64 { uv_now(raw) }

    func scheduleFlush(_ stream: TCPStream) {
        dirty.append(stream)
        keepPollFromBlocking()
    }

    /// Runs `body` once, at the end of this loop turn (after polling for I/O).
    public func atTurnEnd(_ body: @escaping () -> Void) {
        turnEnd.append(body)
        keepPollFromBlocking()
    }

    private func keepPollFromBlocking() {
        if !idleActive {
            // An active idle handle makes the poll non-blocking, so frames queued from a timer
            // callback are flushed this turn instead of after the next I/O event.
            idleActive = true
            uv_idle_start(idle) { _ in }
        }
    }

    private func flushDirty() {
        if idleActive {
            idleActive = false
            uv_idle_stop(idle)
        }
        if !turnEnd.isEmpty {
            let work = turnEnd
            turnEnd.removeAll()
            for body in work { body() }
        }
        guard !dirty.isEmpty else { return }
        let streams = dirty
        dirty.removeAll(keepingCapacity: true)
        for stream in streams { stream.flushScheduled() }
    }

    func ensureScratch(_ count: Int) {
        if count > scratchCapacity {
            scratch.deallocate()
            scratchCapacity = max(count, scratchCapacity * 2)
            scratch = .allocate(capacity: scratchCapacity)
        }
    }

    /// Closes the loop's own handles and every handle still open, runs until they are gone, and closes
    /// the loop. Call once, on the loop thread, after `run()` returned.
    public func close() {
        closeRawHandle(check)
        closeRawHandle(idle)
        uv_walk(
            raw,
            { handle, _ in
                if uv_is_closing(handle) == 0 { uv_close(handle, nil) }
            }, nil)
        uv_run(raw, UV_RUN_DEFAULT)
        uv_loop_close(raw)
    }

    private func closeRawHandle<T>(_ handle: UnsafeMutablePointer<T>) {
        let h = UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)
        if uv_is_closing(h) == 0 { uv_close(h, nil) }
    }

    deinit {
        readBuffer.deallocate()
        scratch.deallocate()
        check.deallocate()
        idle.deallocate()
        raw.deallocate()
    }
}
