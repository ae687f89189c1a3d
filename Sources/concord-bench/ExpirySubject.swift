/// Something holding deadlines that the expiry benchmark fills, ticks and refreshes: the bare
/// `ExpiryQueue`, or a registry that keeps its deadlines in one.
///
/// Entries are numbered 0..<n by the benchmark; each adapter maps a number to its own key once, at
/// creation, so the timed calls do no more than the server's would.
protocol ExpirySubject {
    /// The name in the table.
    static var name: String { get }

    init(capacity: Int)

    /// Creates entry `entry` with `deadline` (milliseconds), or re-creates it after it expired.
    mutating func insert(_ entry: Int, deadline: Int64)

    /// One timer tick: the earliest deadline (to re-arm the timer) and the removal of every entry
    /// due at `now`. Returns how many were removed.
    mutating func tick(now: Int64) -> Int

    /// Moves a live entry's deadline, as a TTL refresh does.
    mutating func refresh(_ entry: Int, deadline: Int64)
}
