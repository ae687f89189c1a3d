import ConcordCore
import ConcordUV
import Logging

/// What a commit, a delete or a dry run came to, as the handlers answer it.
enum CommitResult {
    case outcome(CommitOutcome)
    /// A dry run that a commit would pass: the record's current version, which stays as it was.
    case wouldBeAccepted(CommitOutcome.Accepted, current: VersionVector)
    /// The request broke a rule of the protocol (an actor name, a context naming unknown writes).
    case refused(ProtocolError)
    /// The store failed: nothing was accepted.
    case unavailable
}

extension ProtocolError {
    /// The answer to a record command when the data directory cannot be read or written.
    static let storeUnavailable = ProtocolError(.unavailable, "the record store is unavailable")
}

/// Records as the handlers use them, on the loop thread: a bounded cache in front of the store,
/// the rules that decide commits, and group commit. A cache miss is read by the store's own
/// thread and the command resumes on the loop when the row arrives; the loop never waits on disk.
final class RecordService {
    let rules: RecordRules
    private(set) var cache: RecordCache!
    private let store: any RecordStore
    private unowned let loop: EventLoop
    private let logger: Logger
    private let groupCommit: GroupCommit
    /// Keys missed during this loop turn, read together at its end.
    private var misses: [RecordKey] = []
    private var answers: LoopMailbox<([RecordKey], Result<[RecordState?], RecordReadFailure>)>?

    init(store: any RecordStore, loop: EventLoop, logger: Logger, capacity: Int, maxActors: Int) throws {
        self.store = store
        self.loop = loop
        self.logger = logger
        rules = RecordRules(maxActors: maxActors)
        groupCommit = try GroupCommit(store: store, loop: loop)
        answers = try LoopMailbox(loop: loop) { [unowned self] answers in
            for (keys, result) in answers { deliver(keys, result) }
        }
        cache = RecordCache(capacity: capacity) { [unowned self] key in
            if misses.isEmpty { loop.atTurnEnd { [unowned self] in readMisses() } }
            misses.append(key)
        }
    }

    /// Commits accepted but not yet durable.
    var pendingCommits: Int { groupCommit.pendingCount }

    /// Runs `body` with the record's state (nil: never written), or `failed` when it cannot be read.
    func read(_ key: RecordKey, failed: @escaping () -> Void, _ body: @escaping (RecordState?) -> Void) {
        cache.access(key, failed: { _ in failed() }) { state in
            body(state)
            return false
        }
    }

    /// Runs `body` with the states of every key, or `failed` when one cannot be read.
    func readAll(_ keys: [RecordKey], failed: @escaping () -> Void, _ body: @escaping ([RecordState?]) -> Void) {
        cache.accessAll(keys, failed: { _ in failed() }, body)
    }

    /// Runs `body` after every earlier command on the record, without its state: for commands
    /// that must keep their place in the record's order.
    func inOrder(_ key: RecordKey, _ body: @escaping () -> Void) {
        cache.access(key, failed: { _ in body() }) { _ in
            body()
            return false
        }
    }

    /// Decides a commit or a delete on the record's current state. An accepted one (not a dry
    /// run) is cached at once, so the next command on the record sees it, and `done` runs once
    /// it is durable, with the state it left; anything else is answered without waiting.
    func commit(
        _ key: RecordKey, _ commit: Commit, delete: Bool, dryRun: Bool, now: Timestamp,
        done: @escaping (CommitResult, RecordState?) -> Void
    ) {
        guard !groupCommit.failed else { return done(.unavailable, nil) }
        cache.access(key, failed: { _ in done(.unavailable, nil) }) { [unowned self] state in
            guard !groupCommit.failed else {
                done(.unavailable, nil)
                return false
            }
            let decide = { [rules] (record: inout RecordState?) throws(ProtocolError) -> CommitOutcome in
                delete
                    ? try rules.delete(&record, actor: commit.actor, context: commit.context, now: now)
                    : try rules.commit(&record, commit, now: now)
            }
            let outcome: CommitOutcome
            do throws(ProtocolError) {
                // A dry run decides on a copy; a commit changes the cached state in place.
                var copy = dryRun ? state : nil
                outcome = dryRun ? try decide(&copy) : try decide(&state)
            } catch {
                done(.refused(error), nil)
                return false
            }
            if dryRun, case .accepted(let accepted) = outcome {
                done(.wouldBeAccepted(accepted, current: state?.version ?? VersionVector()), nil)
                return false
            }
            guard outcome.isAccepted, let written = state else {
                done(.outcome(outcome), nil)
                return false
            }
            groupCommit.add(key, written) { [unowned self] durable in
                cache.persisted(key)
                guard durable else {
                    logger.error("record store failed: commits are refused until restart")
                    return done(.unavailable, nil)
                }
                done(.outcome(outcome), written)
            }
            return true
        }
    }

    private func readMisses() {
        let keys = misses
        misses = []
        guard let answers else { return }
        store.read(keys) { result in answers.post((keys, result)) }
    }

    private func deliver(_ keys: [RecordKey], _ result: Result<[RecordState?], RecordReadFailure>) {
        switch result {
        case .success(let states):
            for (key, state) in zip(keys, states) { cache.loaded(key, .success(state)) }
        case .failure(let failure):
            logger.error("record store read failed: \(failure.reason)")
            for key in keys { cache.loaded(key, .failure(failure)) }
        }
    }

    /// Writes what is pending and releases the store. Loop thread, after the loop ended.
    func close() {
        answers?.close()
        answers = nil
        groupCommit.close()
    }
}
