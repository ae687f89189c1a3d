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
    /// Other nodes kept winning the race for the record (`RecordService.maxAttempts`): nothing
    /// was accepted; the client may try again.
    case contended
}

extension ProtocolError {
    /// The answer to a record command when the data directory cannot be read or written.
    static let storeUnavailable = ProtocolError(.unavailable, "the record store is unavailable")
    /// The answer when other nodes kept changing the record while this one decided.
    static let recordContended = ProtocolError(.unavailable, "the record kept changing on other nodes: try again")
}

/// Records as the handlers use them, on the loop thread: a bounded cache in front of the store,
/// the rules that decide commits, and group commit. A cache miss is read by the store's own
/// thread and the command resumes on the loop when the row arrives; the loop never waits on disk.
///
/// With a store shared by several nodes the cache may be behind: each write carries the state it
/// was decided on, and one that lost the race to another node is decided again on the state the
/// store answered, up to `maxAttempts` times. Other nodes' writes update unpinned cached records.
final class RecordService {
    /// Decisions of one commit before it is answered `contended`: each lost race means another
    /// node's commit on the record went through, so a handful already means heavy contention.
    static let maxAttempts = 5

    /// Hears another node's accepted write, once the cache took it (stale warnings, the demo).
    var onRemoteChange: ((RecordChange) -> Void)?
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
        store.onChange = { [unowned self] change in
            cache.update(change.key, to: change.state)
            onRemoteChange?(change)
        }
        store.onLostTrack = { [unowned self] in cache.forgetAll() }
    }

    /// Commits accepted but not yet durable.
    var pendingCommits: Int { groupCommit.pendingCount }

    /// Runs `body` with the record's state (nil: never written), or `failed` when it cannot be read.
    func read(_ key: RecordKey, failed: @escaping () -> Void, _ body: @escaping (RecordState?) -> Void) {
        guard store.isAvailable else { return failed() }
        cache.access(key, failed: { _ in failed() }) { state in
            body(state)
            return false
        }
    }

    /// Runs `body` with the states of every key, or `failed` when one cannot be read.
    func readAll(_ keys: [RecordKey], failed: @escaping () -> Void, _ body: @escaping ([RecordState?]) -> Void) {
        guard store.isAvailable else { return failed() }
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
        attempt(key, commit, delete: delete, dryRun: dryRun, now: now, attempt: 1, done: done)
    }

    private func attempt(
        _ key: RecordKey, _ commit: Commit, delete: Bool, dryRun: Bool, now: Timestamp, attempt: Int,
        done: @escaping (CommitResult, RecordState?) -> Void
    ) {
        guard !groupCommit.failed, store.isAvailable else { return done(.unavailable, nil) }
        let again = { [unowned self] in
            self.attempt(key, commit, delete: delete, dryRun: dryRun, now: now, attempt: attempt + 1, done: done)
        }
        // A dry run writes nothing, so no compare-and-set would catch a cache behind another
        // node's write: with a shared store it decides on the record read afresh.
        if dryRun, store.isShared, attempt == 1 { cache.forget(key) }
        cache.access(key, failed: { _ in done(.unavailable, nil) }) { [unowned self] state in
            guard !groupCommit.failed, store.isAvailable else {
                done(.unavailable, nil)
                return false
            }
            let decide = { [rules] (record: inout RecordState?) throws(ProtocolError) -> CommitOutcome in
                delete
                    ? try rules.delete(&record, actor: commit.actor, context: commit.context, now: now)
                    : try rules.commit(&record, commit, now: now)
            }
            // A shared store compares each write's base; a store this node owns does not need it,
            // and keeping it would cost a copy of the record on every commit.
            let base = store.isShared ? state : nil
            let generation = cache.generation(of: key)
            let outcome: CommitOutcome
            do throws(ProtocolError) {
                // A dry run decides on a copy; a commit changes the cached state in place.
                var copy = dryRun ? state : nil
                outcome = dryRun ? try decide(&copy) : try decide(&state)
            } catch {
                // A context naming writes the cache does not have may come from another node
                // that the cache is behind: read the record again, once, before refusing.
                guard store.isShared, attempt == 1 else {
                    done(.refused(error), nil)
                    return false
                }
                cache.forget(key)
                loop.atTurnEnd(again)
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
            groupCommit.add(key, written, base: base) { [unowned self] verdict in
                switch verdict {
                case .durable:
                    cache.persisted(key)
                    done(.outcome(outcome), written)
                case .lost(let current):
                    // Another node won: unless a newer state was taken meanwhile, the cache takes
                    // the store's, and the commit is decided again on it.
                    if let generation { cache.replace(key, with: current, ifGeneration: generation) }
                    cache.persisted(key)
                    guard attempt < Self.maxAttempts else {
                        logger.warning("record \(key) kept changing on other nodes: a commit was refused after \(attempt) attempts")
                        return done(.contended, nil)
                    }
                    again()
                case .failed(let failure):
                    // What the store holds is unknown now: the record is read again next time.
                    if store.isShared { cache.forget(key) }
                    cache.persisted(key)
                    logger.error(
                        failure.lasting
                            ? "record store failed: commits are refused until restart: \(failure.reason)"
                            : "record store failed: \(failure.reason)")
                    done(.unavailable, nil)
                }
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
