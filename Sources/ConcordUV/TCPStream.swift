import CLibUV

/// What a stream tells its owner. All calls happen on the loop thread.
public protocol TCPStreamDelegate: AnyObject {
    /// Bytes read into the loop's shared buffer: consume or copy them before returning.
    func streamDidRead(_ stream: TCPStream, _ bytes: UnsafeRawBufferPointer)
    /// The peer closed its side, or reading or writing failed. The owner decides when to close.
    func streamDidEnd(_ stream: TCPStream, error: UVError)
    /// libuv has closed the handle; nothing more will be called.
    func streamDidClose(_ stream: TCPStream)
}

/// A TCP connection on the loop: reads into the shared buffer, queues shared frames, and writes every
/// frame queued in one loop turn with one gathered write.
public final class TCPStream {
    let handle: UnsafeMutablePointer<uv_tcp_t>
    unowned let loop: EventLoop
    public var delegate: (any TCPStreamDelegate)?

    private var pending: [SharedBytes] = []
    /// Bytes of `pending[0]` already written by a partial write.
    private var headOffset = 0
    private var writeInFlight = false
    private var flushScheduledFlag = false
    private var closeWhenDrained = false
    public private(set) var isClosing = false
    /// Bytes queued or handed to the kernel but not yet written: the bound on a slow reader.
    public private(set) var queuedBytes = 0

    init(loop: EventLoop) throws(UVError) {
        self.loop = loop
        handle = .allocate(capacity: 1)
        let result = uv_tcp_init(loop.raw, handle)
        if result < 0 {
            handle.deallocate()
            throw UVError(result)
        }
        // Released in the close callback, which is the only place the C memory is freed.
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    var streamPointer: UnsafeMutablePointer<uv_stream_t> {
        UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_stream_t.self)
    }

    static func from(_ stream: UnsafeMutablePointer<uv_stream_t>?) -> TCPStream {
        Unmanaged<TCPStream>.fromOpaque(stream!.pointee.data!).takeUnretainedValue()
    }

    /// Connects to a server (the benchmark and test clients use this).
    public static func connect(
        loop: EventLoop, host: String, port: Int, _ completion: @escaping (Result<TCPStream, UVError>) -> Void
    ) {
        let stream: TCPStream
        do { stream = try TCPStream(loop: loop) } catch { return completion(.failure(error)) }
        var addr = sockaddr_in()
        uv_ip4_addr(host, Int32(port), &addr)
        let request = UnsafeMutablePointer<uv_connect_t>.allocate(capacity: 1)
        request.pointee.data = Unmanaged.passRetained(ConnectContext(stream: stream, completion: completion)).toOpaque()
        let result = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                uv_tcp_connect(request, stream.handle, $0) { request, status in
                    let context = Unmanaged<ConnectContext>.fromOpaque(request!.pointee.data!).takeRetainedValue()
                    request!.deallocate()
                    if status < 0 {
                        context.stream.close()
                        context.completion(.failure(UVError(status)))
                    } else {
                        context.stream.setNoDelay()
                        context.completion(.success(context.stream))
                    }
                }
            }
        }
        if result < 0 {
            Unmanaged<ConnectContext>.fromOpaque(request.pointee.data!).release()
            request.deallocate()
            stream.close()
            completion(.failure(UVError(result)))
        }
    }

    private final class ConnectContext {
        let stream: TCPStream
        let completion: (Result<TCPStream, UVError>) -> Void
        init(stream: TCPStream, completion: @escaping (Result<TCPStream, UVError>) -> Void) {
            self.stream = stream
            self.completion = completion
        }
    }

    func setNoDelay() {
        uv_tcp_nodelay(handle, 1)
    }

    /// The peer's IPv4 or IPv6 address as text.
    public var peerAddress: String? {
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getpeername(handle, $0, &length) }
        }
        guard ok == 0 else { return nil }
        var text = [CChar](repeating: 0, count: 64)
        let family = storage.ss_family
        return withUnsafePointer(to: &storage) { pointer -> String? in
            if family == sa_family_t(AF_INET6) {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    uv_ip6_name($0, &text, 64) == 0 ? String(cString: text) : nil
                }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                uv_ip4_name($0, &text, 64) == 0 ? String(cString: text) : nil
            }
        }
    }

    public func startReading() {
        guard !isClosing else { return }
        uv_read_start(
            streamPointer,
            { handle, _, buf in
                let loop = EventLoop.from(handle!.pointee.loop)
                buf!.pointee = uv_buf_init(loop.readBuffer.assumingMemoryBound(to: CChar.self), UInt32(EventLoop.readBufferSize))
            },
            { stream, nread, buf in
                let this = TCPStream.from(stream)
                if nread > 0 {
                    this.delegate?.streamDidRead(this, UnsafeRawBufferPointer(start: buf!.pointee.base, count: nread))
                } else if nread < 0 {
                    uv_read_stop(stream)
                    this.delegate?.streamDidEnd(this, error: UVError(Int32(nread)))
                }
            })
    }

    public func stopReading() {
        guard !isClosing else { return }
        uv_read_stop(streamPointer)
    }

    /// Queues a frame; it is written with everything else queued this turn, after I/O polling.
    public func send(_ bytes: SharedBytes) {
        guard !isClosing, !closeWhenDrained else { return }
        pending.append(bytes)
        queuedBytes += bytes.count
        if !flushScheduledFlag && !writeInFlight {
            flushScheduledFlag = true
            loop.scheduleFlush(self)
        }
    }

    /// Writes what is queued now instead of at the end of the turn, when the kernel can take it: a
    /// burst queued within one turn must not count against a reader that keeps up.
    public func flushNow() {
        flush()
    }

    /// Drops frames not yet handed to the kernel (a slow reader's backlog) so a close frame goes next.
    public func discardQueued() {
        for frame in pending { queuedBytes -= frame.count }
        queuedBytes += headOffset
        pending.removeAll()
        headOffset = 0
    }

    /// Closes once every queued byte is written (after a close frame or an HTTP `Connection: close`).
    public func closeAfterFlush() {
        guard !isClosing else { return }
        closeWhenDrained = true
        if queuedBytes == 0 { close() }
    }

    func flushScheduled() {
        flushScheduledFlag = false
        flush()
    }

    private func flush() {
        guard !isClosing, !writeInFlight, !pending.isEmpty else { return }
        let count = pending.count
        loop.ensureScratch(count)
        fillBuffers(count)
        var written = Int(uv_try_write(streamPointer, loop.scratch, UInt32(count)))
        if written == Int(UV_EAGAIN.rawValue) || written == Int(UV_ENOSYS.rawValue) { written = 0 }
        if written < 0 {
            fail(UVError(Int32(written)))
            return
        }
        consume(written)
        if pending.isEmpty {
            if closeWhenDrained { close() }
            return
        }
        writeRemainder()
    }

    private func fillBuffers(_ count: Int) {
        for i in 0..<count {
            let frame = pending[i]
            let skip = i == 0 ? headOffset : 0
            loop.scratch[i] = uv_buf_init((frame.pointer + skip).assumingMemoryBound(to: CChar.self), UInt32(frame.count - skip))
        }
    }

    private func consume(_ written: Int) {
        var left = written
        var drop = 0
        while left > 0 {
            let remaining = pending[drop].count - headOffset
            if left >= remaining {
                left -= remaining
                headOffset = 0
                drop += 1
            } else {
                headOffset += left
                left = 0
            }
        }
        if drop > 0 { pending.removeFirst(drop) }
        queuedBytes -= written
    }

    /// What the kernel did not take now goes to `uv_write`, which keeps the frames alive until done.
    private func writeRemainder() {
        let count = pending.count
        loop.ensureScratch(count)
        fillBuffers(count)
        let bytes = pending.reduce(0) { $0 + $1.count } - headOffset
        let request = UnsafeMutablePointer<uv_write_t>.allocate(capacity: 1)
        request.pointee.data = Unmanaged.passRetained(WriteContext(stream: self, frames: pending, bytes: bytes)).toOpaque()
        pending.removeAll(keepingCapacity: true)
        headOffset = 0
        writeInFlight = true
        let result = uv_write(request, streamPointer, loop.scratch, UInt32(count)) { request, status in
            let context = Unmanaged<WriteContext>.fromOpaque(request!.pointee.data!).takeRetainedValue()
            request!.deallocate()
            context.stream.writeCompleted(bytes: context.bytes, status: status)
        }
        if result < 0 {
            Unmanaged<WriteContext>.fromOpaque(request.pointee.data!).release()
            request.deallocate()
            writeInFlight = false
            fail(UVError(result))
        }
    }

    private func writeCompleted(bytes: Int, status: Int32) {
        writeInFlight = false
        queuedBytes -= bytes
        if status < 0 {
            if !isClosing { fail(UVError(status)) }
            return
        }
        if pending.isEmpty {
            if closeWhenDrained { close() }
        } else {
            flush()
        }
    }

    private func fail(_ error: UVError) {
        pending.removeAll()
        queuedBytes = 0
        delegate?.streamDidEnd(self, error: error)
        close()
    }

    private final class WriteContext {
        let stream: TCPStream
        let frames: [SharedBytes]
        let bytes: Int
        init(stream: TCPStream, frames: [SharedBytes], bytes: Int) {
            self.stream = stream
            self.frames = frames
            self.bytes = bytes
        }
    }

    /// Closes the connection now, dropping whatever is still queued.
    public func close() {
        guard !isClosing else { return }
        isClosing = true
        pending.removeAll()
        let h = UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)
        uv_close(h) { h in
            let this = Unmanaged<TCPStream>.fromOpaque(h!.pointee.data!).takeRetainedValue()
            this.delegate?.streamDidClose(this)
            this.delegate = nil
            this.handle.deallocate()
        }
    }
}
