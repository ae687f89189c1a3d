import ConcordCore
import ConcordUV

/// What became of one accepted commit's write.
enum WriteVerdict {
    case durable
    /// Another node changed the record first: the state the store holds now.
    case lost(current: RecordState?)
    case failed(RecordStoreFailure)
}

/// Collects the record states accepted in one loop turn into one store batch, and runs each
/// commit's verdict on the loop thread once its batch is answered.
final class GroupCommit {
    private struct Entry {
        var write: RecordWrite
        var callbacks: [(WriteVerdict) -> Void]
    }

    private let store: any RecordStore
    private unowned let loop: EventLoop
    private var batch: [Entry] = []
    private var batchIndex: [RecordKey: Int] = [:]
    private var waiting: [UInt64: [Entry]] = [:]
    private var nextBatch: UInt64 = 0
    /// Batches the store finished, handed over from its thread.
    private var finished: LoopMailbox<(UInt64, Result<[RecordWriteOutcome], RecordStoreFailure>)>?
    /// Set when a batch failed in a way the store calls lasting (a data directory that cannot be
    /// written): later commits are refused. A shared store's failures pass (Redis comes back).
    private(set) var failed = false

    init(store: any RecordStore, loop: EventLoop) throws {
        self.store = store
        self.loop = loop
        finished = try LoopMailbox(loop: loop) { [unowned self] done in self.drain(done) }
    }

    /// Number of commits accepted but not yet answered.
    var pendingCount: Int {
        batch.reduce(0) { $0 + $1.callbacks.count } + waiting.values.reduce(0) { $0 + $1.reduce(0) { $0 + $1.callbacks.count } }
    }

    /// Queues a record's new state, decided on `base`; `then` runs once the store answered.
    ///
    /// A store one node owns gets one write per record per batch, the last (the states were decided
    /// one on top of the other). A shared store gets each write with its own base: it compares
    /// each, in order, and one that lost must not take the others with it.
    func add(_ key: RecordKey, _ state: RecordState, base: RecordState?, then: @escaping (WriteVerdict) -> Void) {
        if batch.isEmpty { loop.atTurnEnd { [unowned self] in self.flush() } }
        if !store.isShared, let i = batchIndex[key] {
            batch[i].write.state = state
            batch[i].callbacks.append(then)
            return
        }
        if !store.isShared { batchIndex[key] = batch.count }
        batch.append(Entry(write: RecordWrite(key, state, base: base), callbacks: [then]))
    }

    private func flush() {
        guard !batch.isEmpty else { return }
        nextBatch += 1
        let id = nextBatch
        waiting[id] = batch
        let writes = batch.map(\.write)
        batch = []
        batchIndex = [:]
        guard let finished else { return }
        store.persist(writes) { result in finished.post((id, result)) }
    }

    private func drain(_ done: [(UInt64, Result<[RecordWriteOutcome], RecordStoreFailure>)]) {
        for (id, result) in done.sorted(by: { $0.0 < $1.0 }) {
            let entries = waiting.removeValue(forKey: id) ?? []
            switch result {
            case .success(let outcomes) where outcomes.count == entries.count:
                for (entry, outcome) in zip(entries, outcomes) {
                    let verdict: WriteVerdict
                    switch outcome {
                    case .stored: verdict = .durable
                    case .lost(let current): verdict = .lost(current: current)
                    }
                    for callback in entry.callbacks { callback(verdict) }
                }
            case .success(let outcomes):
                let failure = RecordStoreFailure("the store answered \(outcomes.count) of \(entries.count) writes", lasting: true)
                failed = true
                for entry in entries { for callback in entry.callbacks { callback(.failed(failure)) } }
            case .failure(let failure):
                if failure.lasting { failed = true }
                for entry in entries { for callback in entry.callbacks { callback(.failed(failure)) } }
            }
        }
    }

    func close() {
        finished?.close()
        finished = nil
        store.close()
    }
}
