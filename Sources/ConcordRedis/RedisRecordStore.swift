import ConcordCore
import Crypto

/// Records in Redis, shared by every node: reads are plain `GET`s, and each write is a
/// compare-and-set on the state it was decided on, so that the core's rules decide and Redis only
/// checks that nobody wrote in between.
///
/// Keys, all in the channel's hash tag: `PREFIX:{CHANNEL}:record:ID` holds the record's stored form
/// (`RecordState.jsonBytes`, canonical: equal states are equal bytes), and `PREFIX:{CHANNEL}:record-ids`
/// is a sorted set of the channel's ids (score 0, so in byte order) for `ids(in:limit:)`. Each
/// write also publishes a `RecordMessage` on `PREFIX:records`, which every node listens to.
///
/// Loop thread only, like the `RedisNode` it uses; `done` runs on the loop thread. While Redis is
/// down, everything fails at once (`isAvailable` is false); nothing waits to run late.
public final class RedisRecordStore: RecordStore {
    public let node: RedisNode
    /// The pub/sub channel of every record write.
    public let changesChannel: String
    private var closed = false

    public var onChange: ((RecordChange) -> Void)?
    public var onLostTrack: (() -> Void)?
    public var isShared: Bool { true }
    public var isAvailable: Bool { !closed && node.isReady }

    /// `KEYS[1]` the record, `KEYS[2]` the channel's ids; `ARGV[2]` the SHA-1 of the base's stored
    /// form (empty: the record must not exist), `ARGV[3]` the new stored form, `ARGV[4]` the id,
    /// `ARGV[5]` the changes channel, `ARGV[6]` the message. Answers 1 when written, or `{0}` /
    /// `{0, current}` when Redis holds another state than the base.
    static let compareAndSet = RedisScript(
        """
        local current = redis.call('GET', KEYS[1])
        if current then
          if redis.sha1hex(current) ~= ARGV[2] then return {0, current} end
        elseif ARGV[2] ~= '' then
          return {0}
        end
        redis.call('SET', KEYS[1], ARGV[3])
        redis.call('ZADD', KEYS[2], 0, ARGV[4])
        redis.call('PUBLISH', ARGV[5], ARGV[1] .. '\\n' .. ARGV[6])
        return 1
        """)

    /// Listens for other nodes' writes at once; the node may be started before or after.
    public init(node: RedisNode) {
        self.node = node
        changesChannel = node.key("records")
        // Confirmed at first and after every reconnect: what was published while this node was
        // not subscribed is unknown, so cached states are read again.
        node.listen(changesChannel, subscribed: { [weak self] in self?.onLostTrack?() }) { [weak self] payload in
            self?.received(payload)
        }
        node.observeState { [weak self] state in
            if state != .ready { self?.onLostTrack?() }
        }
    }

    public func recordKey(_ key: RecordKey) -> String { node.key(key.channel, "record:" + key.id) }
    public func idsKey(_ channel: String) -> String { node.key(channel, "record-ids") }

    // MARK: Reading

    public func read(_ keys: [RecordKey], done: @escaping @Sendable (Result<[RecordState?], RecordReadFailure>) -> Void) {
        guard !closed else { return done(.failure(RecordReadFailure("the record store is closed"))) }
        let gather = Gather<Result<RecordState?, RecordReadFailure>>(count: keys.count) { results in
            var states: [RecordState?] = []
            for result in results {
                switch result {
                case .success(let state): states.append(state)
                case .failure(let failure): return done(.failure(failure))
                }
            }
            done(.success(states))
        }
        for (i, key) in keys.enumerated() {
            node.send(["GET", recordKey(key)]) { result in
                gather.arrived(Self.state(result, of: key).mapError { RecordReadFailure($0.reason) }, at: i)
            }
        }
    }

    // MARK: Writing

    public func persist(_ batch: [RecordWrite], done: @escaping @Sendable (Result<[RecordWriteOutcome], RecordStoreFailure>) -> Void) {
        guard !closed else { return done(.failure(RecordStoreFailure("the record store is closed", lasting: true))) }
        let gather = Gather<Result<RecordWriteOutcome, RecordStoreFailure>>(count: batch.count) { results in
            var outcomes: [RecordWriteOutcome] = []
            for result in results {
                switch result {
                case .success(let outcome): outcomes.append(outcome)
                case .failure(let failure): return done(.failure(failure))
                }
            }
            done(.success(outcomes))
        }
        // Sent one after the other on one connection: Redis runs and answers them in order, so the
        // batch's last answer comes before the next batch's first.
        for (i, write) in batch.enumerated() {
            let stored = write.state.jsonBytes
            let message = RecordMessage(node: node.id, key: write.key, state: write.state).bytes
            let arguments: [[UInt8]] = [
                Array((write.base.map { Self.sha1Hex($0.jsonBytes) } ?? "").utf8), stored, Array(write.key.id.utf8),
                Array(changesChannel.utf8), message,
            ]
            node.run(Self.compareAndSet, keys: [recordKey(write.key), idsKey(write.key.channel)], arguments: arguments) { result in
                gather.arrived(Self.outcome(result, of: write.key), at: i)
            }
        }
    }

    private static func outcome(_ result: Result<RedisReply, RedisConnection.Failure>, of key: RecordKey) -> Result<RecordWriteOutcome, RecordStoreFailure> {
        switch result {
        case .success(.integer(1)):
            return .success(.stored)
        case .success(.array(let elements)) where elements.first == .integer(0):
            let current = elements.count > 1 ? elements[1] : .null
            return state(.success(current), of: key).map { .lost(current: $0) }
        case .success(let other):
            return .failure(RecordStoreFailure("Redis answered a write of \(key) with \(other)", lasting: false))
        case .failure(let failure):
            return .failure(RecordStoreFailure(failure.reason, lasting: false))
        }
    }

    private static func state(_ result: Result<RedisReply, RedisConnection.Failure>, of key: RecordKey) -> Result<RecordState?, RecordStoreFailure> {
        switch result {
        case .success(.null):
            return .success(nil)
        case .success(.bulk(let bytes)):
            do {
                return .success(try RecordState(json: bytes))
            } catch {
                return .failure(RecordStoreFailure("record \(key) in Redis is not a record state: \(error)", lasting: false))
            }
        case .success(let other):
            return .failure(RecordStoreFailure("Redis answered a read of \(key) with \(other)", lasting: false))
        case .failure(let failure):
            return .failure(RecordStoreFailure(failure.reason, lasting: false))
        }
    }

    static func sha1Hex(_ bytes: [UInt8]) -> String {
        let hex = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in Insecure.SHA1.hash(data: bytes) {
            text.append(hex[Int(byte >> 4)])
            text.append(hex[Int(byte & 15)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    // MARK: Other nodes' writes

    private func received(_ payload: ArraySlice<UInt8>) {
        guard !closed, let message = RecordMessage(payload), message.node != node.id,
            let accepted = message.state.lastAccepted
        else { return }
        onChange?(RecordChange(key: message.key, state: message.state, accepted: accepted))
    }

    // MARK: Start-up and shutdown

    /// A blocking `ZRANGE` on a connection of the calling thread (`RedisNode.blocking`).
    public func ids(in channel: String, limit: Int) throws -> [String] {
        guard limit > 0 else { return [] }
        let reply = try node.blocking([["ZRANGE", idsKey(channel), "0", String(limit - 1)]])[0]
        guard case .array(let members) = reply else { throw RedisBlockingFailure("Redis answered ZRANGE with \(reply)") }
        return members.compactMap(\.text)
    }

    /// Stops listening; the node is its owner's to close.
    public func close() {
        guard !closed else { return }
        closed = true
        node.unlisten(changesChannel)
    }
}
