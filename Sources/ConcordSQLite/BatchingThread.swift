import Foundation

/// A thread of its own that takes everything queued since its last turn and works through it in
/// one go: one transaction (and one sync) for all the batches or reads that arrived meanwhile.
/// Callers only queue, and never wait on the work.
final class BatchingThread<Item>: @unchecked Sendable {
    /// Guards `queue`, `closing`, `finished` and `turnCount`; signalled when an item arrives or
    /// the thread ends.
    private let condition = NSCondition()
    private var queue: [Item] = []
    private var closing = false
    private var finished = false
    private var turnCount = 0
    private var thread: Thread?

    /// Starts the thread: `work` runs on it with each turn's items in queueing order, and `finish`
    /// once, after the last turn.
    init(name: String, work: @escaping ([Item]) -> Void, finish: @escaping () -> Void) {
        let thread = Thread { [self] in
            while let items = nextItems() {
                work(items)
                condition.withLock { turnCount += 1 }
            }
            finish()
            condition.withLock {
                finished = true
                condition.broadcast()
            }
        }
        thread.name = name
        self.thread = thread
        thread.start()
    }

    /// Turns taken so far: fewer than items whenever batching is at work.
    var turns: Int { condition.withLock { turnCount } }

    /// Queues an item. False once closing, when the item was not taken.
    func enqueue(_ item: Item) -> Bool {
        condition.withLock {
            guard !closing else { return false }
            queue.append(item)
            condition.signal()
            return true
        }
    }

    /// Works through what is queued, then stops the thread; returns once `finish` has run. From
    /// the thread itself (a callback of `work`) it cannot wait for itself, so it only asks the
    /// thread to stop after the current turn.
    func close() {
        condition.lock()
        closing = true
        condition.broadcast()
        if Thread.current != thread {
            while !finished { condition.wait() }
        }
        condition.unlock()
    }

    /// Waits for items and takes all of them; nil once closing and drained.
    private func nextItems() -> [Item]? {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty && !closing { condition.wait() }
        guard !queue.isEmpty else { return nil }
        let items = queue
        queue.removeAll(keepingCapacity: true)
        return items
    }
}
