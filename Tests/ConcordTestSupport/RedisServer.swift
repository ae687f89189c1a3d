import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A real `redis-server` on a free loopback port, in memory only unless `arguments` say otherwise
/// (they come last, so `--appendonly yes` wins), for one test.
public final class RedisServer {
    public let port: Int
    private let process = Process()

    /// Starts Redis on `port` (a free one when nil: give the same port to restart it).
    public init(port requested: Int? = nil, arguments: [String] = []) throws {
        let port = try requested ?? Self.freePort()
        self.port = port
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        RedisServer.started(process.processIdentifier)
        // Ready once it accepts a connection.
        let deadline = Date().addingTimeInterval(10)
        while !Self.accepts(port) {
            guard Date() < deadline, process.isRunning else { throw Failure("redis-server did not start on port \(port)") }
            usleep(10_000)
        }
    }

    deinit { stop() }

    /// Every redis-server this process started, killed when it exits: a test that fails (or keeps
    /// its server alive by mistake) leaves none behind.
    private static let startedPIDs = Mutexed<[pid_t]>([])

    private static func started(_ pid: pid_t) {
        startedPIDs.update { pids in
            if pids.isEmpty { atexit { RedisServer.startedPIDs.value.forEach { kill($0, SIGKILL) } } }
            pids.append(pid)
        }
    }

    public static var binary: String {
        ProcessInfo.processInfo.environment["REDIS_SERVER"] ?? "/usr/bin/redis-server"
    }

    /// SIGKILL: Redis goes away at once, as in a crash.
    public func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Stops Redis from answering (SIGSTOP) without closing its connections, or lets it go on.
    public func pause(_ paused: Bool) {
        kill(process.processIdentifier, paused ? SIGSTOP : SIGCONT)
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw Failure("no free port") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    public static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
