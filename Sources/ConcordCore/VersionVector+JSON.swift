/// Version vectors as clients send them: a JSON object of actor to counter.
extension VersionVector {
    /// The largest counter a client may send: JavaScript numbers are exact only up to 2^53.
    public static let maxWireCounter: UInt64 = 1 << 53

    /// Parses a context sent by a client: an object of actor to counter; absent or `null` is the
    /// empty version (a client that has read nothing).
    public static func from(_ json: JSONValue?) throws(ProtocolError) -> VersionVector {
        guard let json, json != .null else { return VersionVector() }
        guard case .object(let members) = json else {
            throw ProtocolError(.invalidFrame, "version must be an object of actor to counter, not \(json.typeName)")
        }
        var counters: [String: UInt64] = [:]
        counters.reserveCapacity(members.count)
        for (actor, value) in members {
            guard !actor.isEmpty, actor.utf8.count <= 200 else {
                throw ProtocolError(.invalidFrame, "version actors must be 1 to 200 bytes")
            }
            guard let counter = wireCounter(value) else {
                throw ProtocolError(.invalidFrame, "version counter of \"\(actor)\" must be an integer from 0 to 2^53")
            }
            counters[actor] = counter
        }
        return VersionVector(counters)
    }

    /// The wire form: an object of actor to counter, `{}` when empty.
    public var json: JSONValue {
        .object(counters.mapValues { .int(Int64(clamping: $0)) })
    }

    private static func wireCounter(_ value: JSONValue) -> UInt64? {
        switch value {
        case .int(let i) where i >= 0 && UInt64(i) <= maxWireCounter:
            return UInt64(i)
        // `2.0` or `1e3` is still an integer; JSON does not say how a sender spells one.
        case .double(let d) where d >= 0 && d <= Double(maxWireCounter) && d.rounded(.towardZero) == d:
            return UInt64(d)
        default:
            return nil
        }
    }
}
