import Foundation
#if canImport(Glibc)
    import Glibc
#endif

/// The real `concord` binary as a child process: killed with SIGKILL, signalled, or measured from /proc.
final class ServerProcess {
    let process = Process()
    let port: Int
    let output = Pipe()

    /// `concord` built next to this test executable (the same scratch path, so the same sources),
    /// else `.build/debug/concord`.
    static var binary: URL {
        var candidates: [URL] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append(URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("concord"))
        }
        let fallback = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../.build/debug/concord").standardized
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? fallback
    }

    convenience init(dataDirectory: URL, port: Int = 0) throws {
        try self.init(arguments: ["--port", String(port), "--api-key", "test-key", "--data-dir", dataDirectory.path])
    }

    /// `concord serve` with these arguments, once it listens.
    init(arguments: [String]) throws {
        process.executableURL = Self.binary
        process.arguments = ["serve", "--log-level", "warning"] + arguments
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The first line names the port.
        var line = ""
        let handle = output.fileHandleForReading
        while !line.contains("\n") {
            let data = handle.availableData
            guard !data.isEmpty else { throw TestWebSocket.Failure.handshake("server exited before listening") }
            line += String(decoding: data, as: UTF8.self)
        }
        guard let range = line.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression) else {
            throw TestWebSocket.Failure.handshake("no port in \(line)")
        }
        self.port = Int(line[range].split(separator: ":")[1])!
    }

    /// Runs `concord serve` with these arguments when it is expected to refuse to start: its exit
    /// status and everything it wrote (standard output and error), or nil if it still runs after
    /// `seconds` (it is then killed).
    static func refusal(arguments: [String], seconds: Double = 10) throws -> (status: Int32, output: String)? {
        let process = Process()
        process.executableURL = binary
        process.arguments = ["serve"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        guard !process.isRunning else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (process.terminationStatus, text)
    }

    func kill9() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM, then SIGKILL if it has not stopped within 5 s.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// VmRSS from /proc/PID/status, in bytes.
    func residentBytes() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 3, fields[2] == "kB", let kilobytes = Int(fields[1]) else { return nil }
            return kilobytes * 1024
        }
        return nil
    }
}

/// A fresh data directory under the system's temporary directory, for a server to store records in.
enum TestDirectory {
    static func make(_ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("concord-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
