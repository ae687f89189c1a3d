import ConcordCore

/// The message a record write publishes to every node: a JSON line `[node, channel, id]`, a
/// newline, and the record's stored form (`RecordState.jsonBytes`). Both parts are read by the
/// core's parsers (each with a fuzz target); nothing here parses by hand.
///
/// The node is repeated from `RedisNode`'s header (which listeners do not see) so that a node
/// skips its own writes: it cached and warned for them when they were acknowledged.
struct RecordMessage: Equatable {
    var node: String
    var key: RecordKey
    var state: RecordState

    var bytes: [UInt8] {
        var w = JSONWriter(reservingCapacity: 64)
        w.raw("[")
        w.string(node)
        w.raw(",")
        w.string(key.channel)
        w.raw(",")
        w.string(key.id)
        w.raw("]\n")
        return w.bytes + state.jsonBytes
    }

    /// Nil for anything that is not such a message (an older or newer node's, say).
    init?(_ payload: ArraySlice<UInt8>) {
        guard let newline = payload.firstIndex(of: UInt8(ascii: "\n")),
            case .array(let header) = JSONParsing.value(from: Array(payload[..<newline])), header.count == 3,
            case .string(let node) = header[0], case .string(let channel) = header[1], case .string(let id) = header[2],
            let state = try? RecordState(json: Array(payload[(newline + 1)...]))
        else { return nil }
        self.init(node: node, key: RecordKey(channel: channel, id: id), state: state)
    }

    init(node: String, key: RecordKey, state: RecordState) {
        self.node = node
        self.key = key
        self.state = state
    }
}
