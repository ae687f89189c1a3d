/// Keeps this node's own messages behind their acknowledgements. A script's reply comes back on
/// the command connection and the message it published on the pub/sub connection, in either order;
/// the backends promise a command's `done` before its change reaches `onChange` (or `onEvent`), so
/// a message this node published waits until its command is answered, and everything after it
/// waits too (order across nodes is Redis's publish order, kept here).
///
/// Pure bookkeeping: the caller numbers its commands with `next()`, reports `answered` and
/// `received`, and runs what comes back.
public struct AckGate<Message> {
    private var lastSent: UInt64 = 0
    /// Commands sent and not answered, in order.
    private var unanswered: [UInt64] = []
    private var held: [(seq: UInt64?, message: Message)] = []
    private var heldHead = 0

    public init() {}

    /// The number for the next command whose message must wait for its answer.
    public mutating func next() -> UInt64 {
        lastSent += 1
        unanswered.append(lastSent)
        return lastSent
    }

    /// Everything sent up to here is answered: what the gate holds for it can go.
    private var answeredThrough: UInt64 { unanswered.first.map { $0 - 1 } ?? lastSent }

    /// The command numbered `seq` was answered (or failed): the messages now free to go, in order.
    public mutating func answered(_ seq: UInt64) -> [Message] {
        if let index = unanswered.firstIndex(of: seq) { unanswered.remove(at: index) }
        return release()
    }

    /// Every command in flight is answered at once: the connection went, no answer will come.
    public mutating func answerAll() -> [Message] {
        unanswered.removeAll()
        return release()
    }

    /// A message arrived: `seq` is its command's number when this node published it, nil when
    /// another node did. Answers the messages free to go now, in order (this one, or none).
    public mutating func received(_ message: Message, seq: UInt64?) -> [Message] {
        if heldHead == held.count, seq.map({ $0 <= answeredThrough }) ?? true { return [message] }
        held.append((seq, message))
        return release()
    }

    public var holding: Int { held.count - heldHead }

    private mutating func release() -> [Message] {
        var free: [Message] = []
        let through = answeredThrough
        while heldHead < held.count, held[heldHead].seq.map({ $0 <= through }) ?? true {
            free.append(held[heldHead].message)
            heldHead += 1
        }
        if heldHead == held.count {
            held.removeAll(keepingCapacity: true)
            heldHead = 0
        }
        return free
    }
}
