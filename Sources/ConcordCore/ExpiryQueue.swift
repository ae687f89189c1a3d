/// Every deadline in one place (presence TTLs, typing TTLs, pong deadlines): an ordered structure whose
/// cost per tick is proportional to what expires, never to how many deadlines exist.
///
/// A binary min-heap with lazy deletion: moving a deadline pushes a new heap entry and leaves the old
/// one stale; stale entries are skipped when they surface and the heap is rebuilt when they pile up.
public struct ExpiryQueue<Key: Hashable> {
    struct Entry {
        var deadline: Int64
        var key: Key
        var generation: UInt64
    }

    private var heap: [Entry] = []
    /// The live deadline of each key and the generation of its current heap entry.
    private var live: [Key: (deadline: Int64, generation: UInt64)] = [:]
    private var nextGeneration: UInt64 = 0

    public init() {}

    public var count: Int { live.count }
    public var isEmpty: Bool { live.isEmpty }

    public func deadline(of key: Key) -> Int64? { live[key]?.deadline }

    /// The earliest live deadline, for arming the one loop timer.
    public mutating func nextDeadline() -> Int64? {
        dropStaleTop()
        return heap.first?.deadline
    }

    /// Sets or moves a key's deadline (milliseconds on the caller's clock).
    public mutating func schedule(_ key: Key, at deadline: Int64) {
        nextGeneration += 1
        live[key] = (deadline, nextGeneration)
        push(Entry(deadline: deadline, key: key, generation: nextGeneration))
        if heap.count > 64 && heap.count > 2 * live.count { rebuild() }
    }

    public mutating func cancel(_ key: Key) {
        live[key] = nil
    }

    /// Removes and returns every key whose deadline is at or before `now`, earliest first.
    public mutating func popExpired(now: Int64) -> [Key] {
        var expired: [Key] = []
        while let top = heap.first, top.deadline <= now {
            popTop()
            if let current = live[top.key], current.generation == top.generation {
                live[top.key] = nil
                expired.append(top.key)
            }
        }
        return expired
    }

    private mutating func dropStaleTop() {
        while let top = heap.first, live[top.key]?.generation != top.generation { popTop() }
    }

    private mutating func rebuild() {
        heap = live.map { Entry(deadline: $0.value.deadline, key: $0.key, generation: $0.value.generation) }
        var i = heap.count / 2
        while i > 0 {
            i -= 1
            siftDown(i)
        }
    }

    private mutating func push(_ entry: Entry) {
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].deadline < heap[parent].deadline else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func popTop() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        siftDown(0)
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { return }
            var smallest = left
            if left + 1 < heap.count && heap[left + 1].deadline < heap[left].deadline { smallest = left + 1 }
            guard heap[smallest].deadline < heap[parent].deadline else { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
