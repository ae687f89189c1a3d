import CLibUV

/// A listening TCP socket that hands each accepted connection to a callback as a `TCPStream`.
public final class TCPListener {
    let handle: UnsafeMutablePointer<uv_tcp_t>
    unowned let loop: EventLoop
    private var onConnection: ((TCPStream) -> Void)?
    private var closed = false

    /// Binds to an IPv4 or IPv6 address; port 0 picks a free port (see `port`).
    public init(loop: EventLoop, host: String, port: Int) throws(UVError) {
        self.loop = loop
        handle = .allocate(capacity: 1)
        try UVError.check(uv_tcp_init(loop.raw, handle))
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
        var storage = sockaddr_storage()
        let parsed = withUnsafeMutablePointer(to: &storage) { pointer -> Int32 in
            if host.contains(":") {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { uv_ip6_addr(host, Int32(port), $0) }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { uv_ip4_addr(host, Int32(port), $0) }
        }
        let bound =
            parsed < 0
            ? parsed
            : withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_bind(handle, $0, 0) }
            }
        if bound < 0 {
            close()
            throw UVError(bound)
        }
    }

    /// Starts accepting. Errors such as EADDRINUSE surface here, from `listen`.
    public func listen(backlog: Int32 = 1024, onConnection: @escaping (TCPStream) -> Void) throws(UVError) {
        self.onConnection = onConnection
        let stream = UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_stream_t.self)
        try UVError.check(
            uv_listen(stream, backlog) { server, status in
                let this = Unmanaged<TCPListener>.fromOpaque(server!.pointee.data!).takeUnretainedValue()
                guard status >= 0 else { return }
                this.accept(server!)
            })
    }

    private func accept(_ server: UnsafeMutablePointer<uv_stream_t>) {
        guard let client = try? TCPStream(loop: loop) else { return }
        guard uv_accept(server, client.streamPointer) == 0 else {
            client.close()
            return
        }
        client.setNoDelay()
        onConnection?(client)
    }

    /// The port actually bound, which differs from the requested one when that was 0.
    public var port: Int {
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getsockname(handle, $0, &length) }
        }
        let family = storage.ss_family
        return withUnsafePointer(to: &storage) { pointer in
            if family == sa_family_t(AF_INET6) {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
        }
    }

    public func close() {
        guard !closed else { return }
        closed = true
        onConnection = nil
        uv_close(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)) { h in
            let this = Unmanaged<TCPListener>.fromOpaque(h!.pointee.data!).takeRetainedValue()
            this.handle.deallocate()
        }
    }
}
