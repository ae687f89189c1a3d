import ConcordCore
import ConcordUV
import Foundation

/// Collects the record states accepted in one loop turn into one store batch, and runs each
/// commit's acknowledgement on the loop thread once its batch is durable.
final class GroupCommit {
    private let store: any RecordStore
    private unowned let loop: EventLoop
    private var batch: [(RecordKey, RecordState)] = []
    private var batchIndex: [RecordKey: Int] = [:]
    private var callbacks: [(Bool) -> Void] = []
    private var waiting: [UInt64: [(Bool) -> Void]] = [:]
    private var nextBatch: UInt64 = 0
    /// Batches the store finished, handed over from its thread.
    private let finishedLock = NSLock()
    private var finished: [(UInt64, Bool)] = []
    private var wakeup: LoopAsync?
    /// Set when a batch failed: the store may be broken, so later commits are refused.
    private(set) var failed = false

    init(store: any RecordStore, loop: EventLoop) throws {
        self.store = store
        self.loop = loop
        wakeup = try LoopAsync(loop: loop) { [unowned self] in self.drain() }
        wakeup?.unref()
    }

    /// Number of commits accepted but not yet durable.
    var pendingCount: Int { callbacks.count + waiting.values.reduce(0) { $0 + $1.count } }

    /// Queues a record's new state; `then(true)` runs once it is durable, `then(false)` if it failed.
    func add(_ key: RecordKey, _ state: RecordState, then: @escaping (Bool) -> Void) {
        if batch.isEmpty { loop.atTurnEnd { [unowned self] in self.flush() } }
        if let i = batchIndex[key] {
            batch[i].1 = state
        } else {
            batchIndex[key] = batch.count
            batch.append((key, state))
        }
        callbacks.append(then)
    }

    private func flush() {
        guard !batch.isEmpty else { return }
        nextBatch += 1
        let id = nextBatch
        waiting[id] = callbacks
        let states = batch
        batch = []
        batchIndex = [:]
        callbacks = []
        let wakeup = self.wakeup
        nonisolated(unsafe) let this = self
        store.persist(states) { error in
            this.finishedLock.lock()
            this.finished.append((id, error == nil))
            this.finishedLock.unlock()
            wakeup?.send()
        }
    }

    private func drain() {
        finishedLock.lock()
        let done = finished.sorted { $0.0 < $1.0 }
        finished.removeAll()
        finishedLock.unlock()
        for (id, ok) in done {
            if !ok { failed = true }
            for callback in waiting.removeValue(forKey: id) ?? [] { callback(ok) }
        }
    }

    func close() {
        wakeup?.close()
        wakeup = nil
        store.close()
    }
}
