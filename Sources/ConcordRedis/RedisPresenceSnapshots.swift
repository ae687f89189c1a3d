import ConcordCore

/// Reads (a presence snapshot, who is typing) answered at the exact point of this node's stream of
/// changes that they reflect, so that a watcher gets the read and then exactly the later changes.
///
/// The read's script also publishes a marker to this node's own marks channel. Redis runs scripts
/// one at a time and writes the messages for one subscriber in the order they were published, so
/// the marker reaches this node after every change published before the read and before every
/// change published after it. The read is run gated, so its marker waits for its reply; the read
/// is answered when its marker arrives: every earlier change has reached `onChange` by then, and
/// no later one has.
final class RedisPresenceSnapshots<Value> {
    private struct Pending {
        var value: Value?
        var marked = false
        let done: (Result<Value, ProtocolError>) -> Void
        let started: Int64
    }

    private let node: RedisNode
    private let marks: String
    private let what: String
    private var nextToken: UInt64 = 0
    private var pending: [UInt64: Pending] = [:]

    /// `marks` is this node's own Redis channel for markers; `what` names the store in errors.
    init(node: RedisNode, marks: String, what: String) {
        self.node = node
        self.marks = marks
        self.what = what
        node.listen(marks) { [weak self] payload in self?.marked(payload) }
        node.observeState { [weak self] state in
            if state != .ready { self?.failAll() }
        }
    }

    var count: Int { pending.count }

    /// Runs `script` with `ARGV[2]` the marks channel and `ARGV[3]` the token to publish there
    /// (after `ARGV[1]`, the header), then `arguments`; `parse` reads its reply.
    func read(
        _ script: RedisScript, keys: [String], arguments: [[UInt8]], now: Int64, parse: @escaping (RedisReply) -> Value?,
        done: @escaping (Result<Value, ProtocolError>) -> Void
    ) {
        guard node.isReady else { return done(.failure(unavailable)) }
        nextToken += 1
        let token = nextToken
        pending[token] = Pending(done: done, started: now)
        node.run(script, keys: keys, arguments: [Array(marks.utf8), Array(String(token).utf8)] + arguments, gated: true) { [weak self] result in
            guard let self, var entry = pending[token] else { return }
            guard case .success(let reply) = result, let value = parse(reply) else {
                pending[token] = nil
                return entry.done(.failure(unavailable))
            }
            entry.value = value
            if entry.marked {
                pending[token] = nil
                return entry.done(.success(value))
            }
            pending[token] = entry
        }
    }

    private func marked(_ payload: ArraySlice<UInt8>) {
        guard let token = UInt64(String(decoding: payload, as: UTF8.self)), var entry = pending[token] else { return }
        guard let value = entry.value else {
            // Only when the connection went and the gate let go: the reply's failure follows.
            entry.marked = true
            pending[token] = entry
            return
        }
        pending[token] = nil
        entry.done(.success(value))
    }

    /// Fails reads started before `cutoff` (a marker lost while subscriptions were restored).
    func expire(startedBefore cutoff: Int64) {
        for (token, entry) in pending where entry.started < cutoff {
            pending[token] = nil
            entry.done(.failure(unavailable))
        }
    }

    private func failAll() {
        let failed = pending.values
        pending.removeAll()
        for entry in failed { entry.done(.failure(unavailable)) }
    }

    var unavailable: ProtocolError {
        ProtocolError(.unavailable, "\(what) is unavailable: Redis cannot be reached")
    }
}
