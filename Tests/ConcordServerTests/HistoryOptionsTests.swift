import Testing

/// `--history`, `--max-recovery` and `--drain-window` on the real binary: a value outside its range
/// stops `concord serve` with the reason, before it listens; good values start it.
@Suite("History and drain options", .serialized)
struct HistoryOptionsTests {
    @Test(arguments: [
        (["--history", "resources/*"], "--history resources/*: expected PATTERN=EVENTS[/AGE]"),
        (["--history", "resources/*=-1"], "--history resources/*=-1: expected PATTERN=EVENTS[/AGE]"),
        (["--history", "a b=3"], "--history a b=3: expected PATTERN=EVENTS[/AGE]"),
        (["--history", "chat/*=10/0s"], "--history chat/*=10/0s: expected PATTERN=EVENTS[/AGE]"),
        (["--max-recovery=-1"], "max recovery must be 0 or more"),
        (["--drain-window", "600001"], "drain window must be 0 to 600000 ms"),
    ])
    func aValueOutsideItsRangeStopsTheServerWithTheReason(_ arguments: [String], _ reason: String) throws {
        let (exited, output) = try DevelopmentModeGuardTests.run(arguments)
        #expect(exited != nil && exited != 0, "exited with \(String(describing: exited))")
        #expect(output.contains(reason), "\(output)")
    }

    @Test func goodValuesStartTheServer() throws {
        let (exited, output) = try DevelopmentModeGuardTests.run([
            "--history", "chat/*=1000/10m", "--history", "audit/*=0", "--max-recovery", "500", "--drain-window", "0",
        ])
        #expect(exited == nil, "\(output)")
        #expect(output.contains("listening on"))
    }
}
