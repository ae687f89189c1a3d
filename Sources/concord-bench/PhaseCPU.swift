/// CPU spent during one measured phase by the server (from /proc), by this generator, and by the
/// whole machine: when the machine's figure is well above the other two, other programs shared the
/// cores during the phase and the run should be repeated. A run over several nodes also reads the
/// other processes it was given (every node, Redis) at the same edges.
struct PhaseCPU {
    var serverSeconds: Double?
    /// CPU of each of `Start.processPIDs` over the phase, in the same order; nil where /proc had none.
    var processSeconds: [Double?] = []
    var generatorSeconds = 0.0
    /// All cores' busy time (see `ProcStats.machineCPU`) and the softirq part of it.
    var machineBusySeconds: Double?
    var machineSoftirqSeconds: Double?

    /// The counters when a phase starts.
    struct Start {
        let serverPID: Int32?
        let server: Double?
        let processPIDs: [Int32]
        let processes: [Double?]
        let generator: Double
        let machine: (idle: Double, steal: Double, softirq: Double)?

        init(serverPID: Int32?, processPIDs: [Int32] = []) {
            self.serverPID = serverPID
            self.processPIDs = processPIDs
            server = serverPID.flatMap(ProcStats.cpuSeconds)
            processes = processPIDs.map(ProcStats.cpuSeconds)
            generator = ProcStats.ownCPUSeconds()
            machine = ProcStats.machineCPU()
        }
    }

    init() {}

    /// The phase that began at `start` and lasted `wallSeconds`; the server is read first, since it
    /// is the figure that matters and is still working on whatever this process does next.
    init(since start: Start, wallSeconds: Double) {
        if let pid = start.serverPID, let before = start.server, let after = ProcStats.cpuSeconds(pid: pid) {
            serverSeconds = after - before
        }
        processSeconds = zip(start.processPIDs, start.processes).map { pid, before in
            guard let before, let after = ProcStats.cpuSeconds(pid: pid) else { return nil }
            return after - before
        }
        generatorSeconds = ProcStats.ownCPUSeconds() - start.generator
        if let before = start.machine, let after = ProcStats.machineCPU() {
            let capacity = wallSeconds * Double(ProcStats.onlineCores)
            machineBusySeconds = max(0, capacity - (after.idle - before.idle) - (after.steal - before.steal))
            machineSoftirqSeconds = after.softirq - before.softirq
        }
    }

    /// "busy s of capacity s, softirq s", for the readable report.
    func machineText(wallSeconds: Double) -> String {
        guard let busy = machineBusySeconds else { return "-" }
        let capacity = wallSeconds * Double(ProcStats.onlineCores)
        return "\(ReportFormat.fixed(busy, 2)) s of \(ReportFormat.fixed(capacity, 2)) s, softirq \(ReportFormat.fixed(machineSoftirqSeconds ?? 0, 2)) s"
    }
}
