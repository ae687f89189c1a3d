import ConcordCore
import ConcordUV

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
    private var finished: LoopMailbox<(UInt64, Bool)>?
    /// Set when a batch failed: the store may be broken, so later commits are refused.
    private(set) var failed = false

    init(store: any RecordStore, loop: EventLoop) throws {
        self.store = store
        self.loop = loop
        finished = try LoopMailbox(loop: loop) { [unowned self] done in self.drain(done) }
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
        guard let finished else { return }
        store.persist(states) { error in finished.post((id, error == nil)) }
    }

    private func drain(_ done: [(UInt64, Bool)]) {
        for (id, ok) in done.sorted(by: { $0.0 < $1.0 }) {
            if !ok { failed = true }
            for callback in waiting.removeValue(forKey: id) ?? [] { callback(ok) }
        }
    }

    func close() {
        finished?.close()
        finished = nil
        store.close()
    }
}
