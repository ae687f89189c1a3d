import ConcordCore

/// The one thread that writes the store: it takes every batch waiting in its queue, writes them
/// in one transaction (group commit: one log sync however many batches arrived meanwhile), then
/// calls their `done` in order.
final class GroupCommitWriter: @unchecked Sendable {
    typealias Done = @Sendable ((any Error)?) -> Void

    private struct Pending {
        var batch: [(RecordKey, RecordState)]
        var done: Done
    }

    private var thread: BatchingThread<Pending>!

    init(database: RecordsDatabase) {
        thread = BatchingThread(
            name: "concord-store-writer",
            work: { group in
                let error: (any Error)?
                do {
                    try database.write(group.map(\.batch))
                    error = nil
                } catch let failure {
                    // Later groups still try: a full disk may have room again by then.
                    error = failure
                }
                for pending in group { pending.done(error) }
            }, finish: { database.close() })
    }

    /// Transactions written so far: fewer than batches whenever group commit is at work.
    var groupsWritten: Int { thread.turns }

    /// Queues a batch; never blocks on I/O. False once closing, when the batch was not taken.
    func enqueue(_ batch: [(RecordKey, RecordState)], done: @escaping Done) -> Bool {
        thread.enqueue(Pending(batch: batch, done: done))
    }

    /// Writes what is queued, stops the thread and closes the database; returns once all of that
    /// is done (from a `done` callback, only asks the thread to stop after the current group).
    func close() {
        thread.close()
    }
}
