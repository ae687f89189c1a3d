import ConcordCore
import Foundation

/// The one thread that writes the store: it takes every batch waiting in its queue, writes them
/// in one transaction (group commit: one log sync however many batches arrived meanwhile), then
/// calls their `done` in order.
final class GroupCommitWriter: @unchecked Sendable {
    typealias Done = @Sendable ((any Error)?) -> Void

    private struct Pending {
        var batch: [(RecordKey, RecordState)]
        var done: Done
    }

    private let database: RecordsDatabase
    /// Guards `queue`, `closing` and `finished`; signalled when a batch arrives or the thread ends.
    private let condition = NSCondition()
    private var queue: [Pending] = []
    private var closing = false
    private var finished = false
    private var thread: Thread?
    /// Transactions written so far: fewer than batches whenever group commit is at work.
    var groupsWritten: Int { condition.lock(); defer { condition.unlock() }; return groupCount }
    private var groupCount = 0

    init(database: RecordsDatabase) {
        self.database = database
        let thread = Thread { [self] in run() }
        thread.name = "concord-store-writer"
        self.thread = thread
        thread.start()
    }

    /// Queues a batch; never blocks on I/O. False once closing, when the batch was not taken.
    func enqueue(_ batch: [(RecordKey, RecordState)], done: @escaping Done) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !closing else { return false }
        queue.append(Pending(batch: batch, done: done))
        condition.signal()
        return true
    }

    /// Writes what is queued, stops the thread and closes the database; returns once all of that
    /// is done. From a `done` callback (on the writer thread) it cannot wait for itself, so it only
    /// asks the thread to finish after the current group.
    func close() {
        condition.lock()
        closing = true
        condition.broadcast()
        if Thread.current != thread {
            while !finished { condition.wait() }
        }
        condition.unlock()
    }

    private func run() {
        while let group = nextGroup() {
            let error: (any Error)?
            do {
                try database.write(group.map(\.batch))
                error = nil
            } catch let failure {
                // Later groups still try: a full disk may have room again by then.
                error = failure
            }
            condition.lock()
            groupCount += 1
            condition.unlock()
            for pending in group { pending.done(error) }
        }
        database.close()
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for batches and takes all of them; nil once closing and drained.
    private func nextGroup() -> [Pending]? {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty && !closing { condition.wait() }
        guard !queue.isEmpty else { return nil }
        let group = queue
        queue.removeAll(keepingCapacity: true)
        return group
    }
}
