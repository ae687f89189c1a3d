/// This node's lease in Redis for one backend (presence or typing), and the reaping of other
/// nodes' leases that lapsed: what makes a dead node's members and typists go within seconds.
///
/// Each node keeps, in a sorted set, its lease id scored by when the lease ends (`now()` plus
/// `leaseMilliseconds`), refreshed every `refreshMilliseconds`, and a set of the channels where it
/// holds something. Every node checks the sorted set at each refresh; for a lease that ended it
/// asks its backend to clear that lease out of each of its channels (the backend's scripts publish
/// the leaves), then forgets the lease. Several nodes may reap one lease at once: clearing is
/// idempotent.
///
/// Time is the injected `now` (milliseconds of a clock the nodes share, the wall clock in the
/// server): node clocks must agree within about a second, or a node's lease may be taken for
/// lapsed early (its holdings then go and come back at its next refresh) or late.
///
/// A node that finds its lease gone (reaped while it was paused or cut off) or that reconnects to
/// Redis takes a new lease id (`generation` + 1) and asks its backend to re-announce what it holds
/// under it (`renew`), moving what the old id still had in one step per channel. A lease id is never
/// revived, so a reaper never races a node back into the lease it is clearing.
final class NodeLease {
    /// Clears one lease's holdings from one channel (publishing what that changes).
    typealias Reap = (_ lease: String, _ channel: String, _ done: @escaping () -> Void) -> Void
    /// Re-announces everything this node holds under `lease`, taking over what `old` held in
    /// `channels` (the old lease's channels, as Redis remembered them).
    typealias Renew = (_ old: String, _ channels: Set<String>) -> Void

    private let node: RedisNode
    /// `pr` or `ty`: the backend's part of the key names.
    private let name: String
    private let now: () -> Int64
    let leaseMilliseconds: Int64
    let refreshMilliseconds: Int64
    private var generation = 0
    /// Whether the current id was written to the lease set (its first refresh may create it).
    private var registered = false
    private var everReady = false
    /// When the next refresh is due, on the clock `tick` is given; 0 until the first tick.
    private(set) var nextDue: Int64 = 0
    private var reaping: Set<String> = []

    var reap: Reap?
    var renew: Renew?

    init(node: RedisNode, name: String, now: @escaping () -> Int64, leaseMilliseconds: Int64 = 5_000, refreshMilliseconds: Int64 = 1_000) {
        self.node = node
        self.name = name
        self.now = now
        self.leaseMilliseconds = leaseMilliseconds
        self.refreshMilliseconds = refreshMilliseconds
        everReady = node.isReady
        node.observeState { [weak self] state in
            guard let self, state == .ready else { return }
            if everReady { renewLease() } else { refresh() }
            everReady = true
        }
    }

    /// The lease this node's holdings are written under now.
    var id: String { "\(node.id).\(generation)" }

    private var leasesKey: String { node.key("\(name):leases") }
    private func channelsKey(_ lease: String) -> String { node.key("\(name):chans:\(lease)") }

    /// Notes that this node holds something in `channel` (sent before the script that adds it, so
    /// a reaper always finds it), creating the lease first when it is new.
    func hold(_ channel: String) {
        if !registered { refresh() }
        node.send(["SADD", channelsKey(id), channel]) { _ in }
    }

    /// This node holds nothing in `channel` any more.
    func release(_ channel: String) {
        node.send(["SREM", channelsKey(id), channel]) { _ in }
    }

    /// Refreshes the lease and reaps lapsed ones when due (`ticks`: the scheduler's clock).
    func tick(_ ticks: Int64) {
        guard ticks >= nextDue else { return }
        nextDue = ticks + refreshMilliseconds
        if node.isReady { refresh() }
    }

    private func refresh() {
        let create = !registered
        registered = true
        let lease = id
        let time = now()
        node.run(
            Self.refreshScript, keys: [leasesKey], arguments: [lease, String(time + leaseMilliseconds), String(time), create ? "1" : "0"],
            gated: false
        ) { [weak self] result in
            guard let self, case .success(.array(let reply)) = result, reply.count == 2, case .array(let expired) = reply[1] else { return }
            if reply[0] == .integer(0), !create, lease == id { return renewLease() }
            for lapsed in expired.compactMap(\.text) where lapsed != id && !reaping.contains(lapsed) { reapLease(lapsed) }
        }
    }

    /// Clears a lapsed lease from each of its channels, then forgets it.
    private func reapLease(_ lease: String) {
        reaping.insert(lease)
        node.send(["SMEMBERS", channelsKey(lease)]) { [weak self] result in
            guard let self else { return }
            guard case .success(.array(let members)) = result else {
                reaping.remove(lease)
                return
            }
            let channels = members.compactMap(\.text)
            var left = channels.count
            let finished = { [weak self] in
                guard let self else { return }
                node.send(["DEL", channelsKey(lease)]) { _ in }
                node.send(["ZREM", leasesKey, lease]) { _ in }
                reaping.remove(lease)
            }
            if channels.isEmpty { return finished() }
            for channel in channels {
                reap?(lease, channel) {
                    left -= 1
                    if left == 0 { finished() }
                }
            }
        }
    }

    /// Takes a new lease id and has the backend re-announce under it.
    private func renewLease() {
        let old = id
        generation += 1
        registered = false
        refresh()
        node.send(["SMEMBERS", channelsKey(old)]) { [weak self] result in
            guard let self else { return }
            var channels: Set<String> = []
            if case .success(.array(let members)) = result { channels = Set(members.compactMap(\.text)) }
            renew?(old, channels)
            node.send(["DEL", channelsKey(old)]) { _ in }
            node.send(["ZREM", leasesKey, old]) { _ in }
        }
    }

    /// Refreshes a lease that still exists (or creates it: `ARGV[5]` is 1) and lists lapsed ones.
    /// Answers whether the lease existed, and up to 64 lapsed leases.
    static let refreshScript = RedisScript(
        """
        local alive = redis.call('ZSCORE', KEYS[1], ARGV[2])
        if alive or ARGV[5] == '1' then redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2]) end
        local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[4], 'LIMIT', 0, 64)
        return {alive and 1 or 0, expired}
        """)
}
