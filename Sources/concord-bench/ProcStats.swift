import Glibc

/// Reads the server's CPU time and resident memory from /proc, and this process's own CPU time.
enum ProcStats {
    /// utime + stime of every thread of `pid`, in seconds (resolution: one clock tick, usually 10 ms).
    static func cpuSeconds(pid: Int32) -> Double? {
        guard let text = readFile("/proc/\(pid)/stat") else { return nil }
        // The command name (field 2) may hold spaces and parentheses; fields after the last ')' are plain.
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After the name, field 3 (state) is index 0, so utime (14) and stime (15) are 11 and 12.
        guard fields.count > 12, let utime = Double(fields[11]), let stime = Double(fields[12]) else { return nil }
        return (utime + stime) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// VmRSS of `pid` in bytes.
    static func residentBytes(pid: Int32) -> Int? {
        guard let text = readFile("/proc/\(pid)/status") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            // "VmRSS:\t   12345 kB": the value is padded with a tab and spaces.
            let number = line.dropFirst(6).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Int($0) }
            return number.map { $0 * 1024 }
        }
        return nil
    }

    /// Per-machine CPU counters from /proc/stat, in seconds summed over cores: idle (with iowait),
    /// stolen by the hypervisor, and softirq. Idle is measured exactly even on a tickless kernel,
    /// while the busy counters are sampled at each tick and miss short bursts, so busy time is
    /// derived from idle: wall time x cores - idle - steal.
    static func machineCPU() -> (idle: Double, steal: Double, softirq: Double)? {
        guard let text = readFile("/proc/stat"), let first = text.split(separator: "\n").first else { return nil }
        // cpu user nice system idle iowait irq softirq steal ...
        let ticks = first.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard ticks.count >= 8 else { return nil }
        let hertz = Double(sysconf(Int32(_SC_CLK_TCK)))
        return ((ticks[3] + ticks[4]) / hertz, ticks[7] / hertz, ticks[6] / hertz)
    }

    static var onlineCores: Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    /// This process's user + system CPU time in seconds: shows when the generator is the bottleneck.
    static func ownCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// Raises the soft open-file limit to the hard one: every subscriber is a descriptor.
    @discardableResult
    static func raiseOpenFileLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        return Int(limit.rlim_cur)
    }

    /// The whole of a small /proc file; `read` until end, since /proc reports no size.
    private static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4096) }
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
    }
}
