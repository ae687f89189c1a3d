/// The records the server holds in memory: a bounded working set in front of the durable store,
/// which stays the source of truth.
///
/// `access` runs a command's body on one record's state: at once when the record is cached, or,
/// on a miss, after the store's answer comes back through `loaded`. Bodies on one record run in
/// the order they were asked for, and see each other's changes. The least recently used records
/// are evicted past `capacity`, except those with writes not yet durable (pinned by a body until
/// `persisted`) and those a body is running on. Pure: the read itself is the caller's, asked
/// through `read`, and nothing here touches a thread, a clock or the disk.
public final class RecordCache {
    /// A command on one record. It may change the state in place; it returns true when it did and
    /// the change is on its way to the store, which pins the record until `persisted`.
    public typealias Body = (inout RecordState?) -> Bool

    public struct Statistics: Equatable, Sendable {
        /// Accesses served from memory.
        public var hits: UInt64 = 0
        /// Accesses that waited for the store.
        public var misses: UInt64 = 0
        /// Records dropped from memory to stay within the capacity.
        public var evictions: UInt64 = 0

        public init() {}
    }

    private struct Waiter {
        var body: Body
        var failed: (String) -> Void
    }

    private struct Slot {
        var key: RecordKey
        var state: RecordState?
        var pins = 0
        var busy = false
        /// Changes when the state is replaced from outside (`replace`, `update`): writes decided
        /// before then were decided on a state the cache no longer holds.
        var generation: UInt64 = 0
        /// To be dropped as soon as nothing pins it or runs on it: the store may hold another state.
        var stale = false
        /// Neighbours in recency order (towards the most and the least recent); -1 at the ends.
        var newer = -1
        var older = -1
    }

    /// Records kept once they are neither pinned nor busy.
    public let capacity: Int
    public private(set) var statistics = Statistics()
    private let read: (RecordKey) -> Void
    private var slots: [Slot] = []
    private var freeSlots: [Int] = []
    private var index: [RecordKey: Int] = [:]
    /// Commands on records the store is reading, in arrival order.
    private var loading: [RecordKey: [Waiter]] = [:]
    /// Commands that arrived while a body ran on the same record.
    private var deferred: [RecordKey: [Waiter]] = [:]
    private var newest = -1
    private var oldest = -1
    private var nextGeneration: UInt64 = 0

    /// `read` asks the store for one record; its answer must come back through `loaded`.
    public init(capacity: Int, read: @escaping (RecordKey) -> Void) {
        self.capacity = max(1, capacity)
        self.read = read
    }

    /// Records in memory.
    public var count: Int { index.count }

    /// Records the store is being asked for.
    public var readsInFlight: Int { loading.count }

    /// The cached state without counting an access or changing the order: nil when not cached,
    /// `.some(nil)` for a record known not to exist.
    public func peek(_ key: RecordKey) -> RecordState?? {
        index[key].map { slots[$0].state }
    }

    /// Runs `body` on the record's state once it is in memory; `failed` runs instead, with the
    /// reason, when the store could not read it.
    public func access(_ key: RecordKey, failed: @escaping (String) -> Void, _ body: @escaping Body) {
        let waiter = Waiter(body: body, failed: failed)
        if let slot = index[key] {
            statistics.hits += 1
            touch(slot)
            return run(waiter, on: slot)
        }
        statistics.misses += 1
        if loading[key] != nil {
            loading[key]!.append(waiter)
        } else {
            loading[key] = [waiter]
            read(key)
        }
    }

    /// Runs `body` with the states of every key once all are in memory, or `failed` once with the
    /// first read that failed. The states are read only; nothing is pinned.
    public func accessAll(_ keys: [RecordKey], failed: @escaping (String) -> Void, _ body: @escaping ([RecordState?]) -> Void) {
        let gather = Gather<Result<RecordState?, RecordReadFailure>>(count: keys.count) { results in
            var states: [RecordState?] = []
            for result in results {
                switch result {
                case .success(let state): states.append(state)
                case .failure(let failure): return failed(failure.reason)
                }
            }
            body(states)
        }
        for (i, key) in keys.enumerated() {
            access(key, failed: { gather.arrived(.failure(RecordReadFailure($0)), at: i) }) { state in
                gather.arrived(.success(state), at: i)
                return false
            }
        }
    }

    /// The store's answer for `key` (a state, nil for a record it never stored, or why it failed):
    /// the commands waiting for it run now, in order.
    public func loaded(_ key: RecordKey, _ result: Result<RecordState?, RecordReadFailure>) {
        guard let waiters = loading.removeValue(forKey: key) else { return }
        switch result {
        case .failure(let failure):
            for waiter in waiters { waiter.failed(failure.reason) }
        case .success(let state):
            let slot = insert(key, state)
            // Held while the waiters run, so that a body asking for other records cannot evict it.
            slots[slot].busy = true
            for waiter in waiters { run(waiter, on: slot, alreadyBusy: true) }
            slots[slot].busy = false
            runDeferred(key, slot)
            if slots[slot].stale && slots[slot].pins == 0 { drop(slot) }
            evictPastCapacity()
        }
    }

    /// One write of the record is durable now (or failed for good): it may be evicted again once
    /// no other write is pending.
    public func persisted(_ key: RecordKey) {
        guard let slot = index[key], slots[slot].pins > 0 else { return }
        slots[slot].pins -= 1
        if slots[slot].pins == 0 && slots[slot].stale { return drop(slot) }
        if slots[slot].pins == 0 && index.count > capacity { evictPastCapacity() }
    }

    // MARK: A store shared with other nodes

    /// Which state of the record the cache holds: compare it after a write's answer to learn
    /// whether the cache was replaced since the write was decided. Nil when not cached.
    public func generation(of key: RecordKey) -> UInt64? {
        index[key].map { slots[$0].generation }
    }

    /// The store answered that it holds `state` (a write lost a race): the cache takes it when it
    /// still holds the generation that write was decided on, even if later writes pin the record
    /// (they were decided on the same lost state and will lose too). Answers whether it took it.
    @discardableResult
    public func replace(_ key: RecordKey, with state: RecordState?, ifGeneration generation: UInt64) -> Bool {
        guard let slot = index[key], slots[slot].generation == generation, !slots[slot].busy else { return false }
        nextGeneration += 1
        slots[slot].state = state
        slots[slot].generation = nextGeneration
        slots[slot].stale = false
        return true
    }

    /// Another node wrote the record: the cache takes the new state unless a write of this node
    /// pins the record (that write will learn the store's state from its own answer). Answers
    /// whether the cache holds the record and took the state.
    @discardableResult
    public func update(_ key: RecordKey, to state: RecordState) -> Bool {
        guard let slot = index[key], slots[slot].pins == 0, !slots[slot].busy else { return false }
        nextGeneration += 1
        slots[slot].state = state
        slots[slot].generation = nextGeneration
        slots[slot].stale = false
        return true
    }

    /// The store may hold another state than the cache (a write failed, changes were missed):
    /// the record is dropped now, or once no write pins it and no body runs on it.
    public func forget(_ key: RecordKey) {
        guard let slot = index[key] else { return }
        if slots[slot].pins == 0 && !slots[slot].busy { return drop(slot) }
        slots[slot].stale = true
    }

    /// `forget` for every cached record.
    public func forgetAll() {
        for slot in Array(index.values) { forget(slots[slot].key) }
    }

    // MARK: Running bodies

    private func run(_ waiter: Waiter, on slot: Int, alreadyBusy: Bool = false) {
        if slots[slot].busy && !alreadyBusy {
            deferred[slots[slot].key, default: []].append(waiter)
            return
        }
        slots[slot].busy = true
        // Moved out while the body runs: the body then changes the only copy, in place, and may
        // reach this cache again (for other records) without overlapping access to `slots`.
        var state = slots[slot].state.take()
        let pinned = waiter.body(&state)
        slots[slot].state = state
        if pinned { slots[slot].pins += 1 }
        if !alreadyBusy {
            slots[slot].busy = false
            runDeferred(slots[slot].key, slot)
            if slots[slot].stale && slots[slot].pins == 0 && !slots[slot].busy { drop(slot) }
        }
    }

    private func runDeferred(_ key: RecordKey, _ slot: Int) {
        while let waiters = deferred.removeValue(forKey: key) {
            for waiter in waiters { run(waiter, on: slot) }
        }
    }

    // MARK: Slots and recency

    private func insert(_ key: RecordKey, _ state: RecordState?) -> Int {
        let slot: Int
        nextGeneration += 1
        let fresh = Slot(key: key, state: state, generation: nextGeneration)
        if let reused = freeSlots.popLast() {
            slot = reused
            slots[slot] = fresh
        } else {
            slot = slots.count
            slots.append(fresh)
        }
        index[key] = slot
        link(slot)
        return slot
    }

    /// Makes `slot` the most recently used.
    private func touch(_ slot: Int) {
        guard newest != slot else { return }
        unlink(slot)
        link(slot)
    }

    private func link(_ slot: Int) {
        slots[slot].older = newest
        slots[slot].newer = -1
        if newest >= 0 { slots[newest].newer = slot }
        newest = slot
        if oldest < 0 { oldest = slot }
    }

    private func unlink(_ slot: Int) {
        let newer = slots[slot].newer, older = slots[slot].older
        if newer >= 0 { slots[newer].older = older } else { newest = older }
        if older >= 0 { slots[older].newer = newer } else { oldest = newer }
        slots[slot].newer = -1
        slots[slot].older = -1
    }

    /// Drops the least recently used records that may go until the capacity holds. Pinned and
    /// busy ones are skipped (moved to the recent end, so the next pass does not meet them first).
    private func evictPastCapacity() {
        var skipped = 0
        while index.count > capacity, oldest >= 0, skipped < index.count {
            let slot = oldest
            if slots[slot].pins > 0 || slots[slot].busy {
                touch(slot)
                skipped += 1
                continue
            }
            drop(slot)
            statistics.evictions += 1
        }
    }

    private func drop(_ slot: Int) {
        unlink(slot)
        index[slots[slot].key] = nil
        slots[slot].state = nil
        slots[slot].stale = false
        freeSlots.append(slot)
    }
}

/// Why the store could not read a record, in words for the operator's log and the client's error.
public struct RecordReadFailure: Error, Sendable {
    public var reason: String

    public init(_ reason: String) { self.reason = reason }
}
