import CLibUV

/// Shared lifetime rules for the small handles: the Swift owner is retained into `data` when created
/// and released, with the C memory, only in libuv's close callback.
public class LoopHandle {
    let rawMemory: UnsafeMutableRawPointer
    var callback: (() -> Void)?
    private var closed = false

    init<Raw>(_ type: Raw.Type, _ initialize: (UnsafeMutablePointer<Raw>) -> Int32) throws(UVError) {
        rawMemory = .allocate(byteCount: MemoryLayout<Raw>.size, alignment: MemoryLayout<Raw>.alignment)
        let result = initialize(rawMemory.bindMemory(to: Raw.self, capacity: 1))
        if result < 0 {
            rawMemory.deallocate()
            throw UVError(result)
        }
        handlePointer.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    var handlePointer: UnsafeMutablePointer<uv_handle_t> {
        rawMemory.assumingMemoryBound(to: uv_handle_t.self)
    }

    static func fire(_ handle: UnsafeMutableRawPointer?) {
        let h = handle!.assumingMemoryBound(to: uv_handle_t.self)
        Unmanaged<LoopHandle>.fromOpaque(h.pointee.data!).takeUnretainedValue().callback?()
    }

    /// Lets the loop exit while this handle is still active (for housekeeping timers).
    public func unref() { uv_unref(handlePointer) }

    public func close() {
        guard !closed else { return }
        closed = true
        callback = nil
        uv_close(handlePointer) { h in
            let this = Unmanaged<LoopHandle>.fromOpaque(h!.pointee.data!).takeRetainedValue()
            this.rawMemory.deallocate()
        }
    }
}

/// A libuv timer: one-shot or repeating, on the loop's monotonic clock.
public final class LoopTimer: LoopHandle {
    var raw: UnsafeMutablePointer<uv_timer_t> { rawMemory.assumingMemoryBound(to: uv_timer_t.self) }

    public init(loop: EventLoop) throws(UVError) {
        try super.init(uv_timer_t.self) { uv_timer_init(loop.raw, $0) }
    }

    public func start(afterMilliseconds timeout: UInt64, repeatMilliseconds: UInt64 = 0, _ body: @escaping () -> Void) {
        callback = body
        uv_timer_start(raw, { LoopTimer.fire(UnsafeMutableRawPointer($0)) }, timeout, repeatMilliseconds)
    }

    public func stop() { uv_timer_stop(raw) }
}

/// Wakes the loop from another thread; the callback runs on the loop thread.
public final class LoopAsync: LoopHandle, @unchecked Sendable {
    var raw: UnsafeMutablePointer<uv_async_t> { rawMemory.assumingMemoryBound(to: uv_async_t.self) }

    public init(loop: EventLoop, _ body: @escaping () -> Void) throws(UVError) {
        try super.init(uv_async_t.self) { uv_async_init(loop.raw, $0) { LoopAsync.fire(UnsafeMutableRawPointer($0)) } }
        callback = body
    }

    /// Safe from any thread; several sends before the loop wakes run the callback once.
    public func send() { uv_async_send(raw) }
}

/// A POSIX signal delivered on the loop thread (SIGINT, SIGTERM for graceful shutdown).
public final class LoopSignal: LoopHandle {
    var raw: UnsafeMutablePointer<uv_signal_t> { rawMemory.assumingMemoryBound(to: uv_signal_t.self) }

    public init(loop: EventLoop, signal: Int32, _ body: @escaping () -> Void) throws(UVError) {
        try super.init(uv_signal_t.self) { uv_signal_init(loop.raw, $0) }
        callback = body
        uv_signal_start(raw, { handle, _ in LoopSignal.fire(UnsafeMutableRawPointer(handle)) }, signal)
        // A parent may have started the process with the signal blocked (the mask is inherited
        // across exec); a watched signal must reach the loop thread.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, signal)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }
}
