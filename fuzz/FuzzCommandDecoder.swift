// libFuzzer target: any bytes a client may send as a text message go through the same path the
// server takes (JSON reader, command decoding, LiveEvent validation, frame encoding) without a crash;
// every accepted event re-encodes to JSON that parses back to the same value; and where Foundation's
// decoder also accepts the input, the hand-written reader agrees with it.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let ours = JSONParsing.value(from: bytes)
    if let ours, let theirs = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)), normalized(ours) != normalized(theirs) {
        fatalError("the JSON reader disagrees with Foundation")
    }
    guard let object = ours?.objectValue else { return 0 }
    let id = ClientCommand.correlationID(in: object)
    do {
        switch try ClientCommand.decode(object) {
        case .publish(let json):
            let event = try LiveEvent(json: json, now: Timestamp(milliseconds: 1_795_000_000_000))
            let frame = ServerFrame.event(event, offset: 1)
            guard case .object(let parsed)? = JSONParsing.value(from: frame), parsed["event"] == .object(event.body) else {
                fatalError("event frame does not round-trip")
            }
            _ = SubscriptionFilter(types: ["*"], ids: ["1"]).admits(event)
        case .subscribe(let subscribe):
            let position = StreamPosition(offset: 0, epoch: "e")
            _ = ServerFrame.subscribed(id: id, sub: subscribe.sub, channel: subscribe.channel, position: position)
            if let since = subscribe.since {
                // A recovery from the client's position on an empty stream: all or nothing, never a crash.
                _ = ChannelStream(epoch: "e").recover(since: since, maxEvents: 1000)
                _ = ServerFrame.subscribed(
                    id: id, sub: subscribe.sub, channel: subscribe.channel, position: position, recovery: .failed(.epochChanged))
            }
            // The sub as it goes back in every event for this subscription alone.
            let frame = ServerFrame.replayed(
                ServerFrame.event(try LiveEvent(json: ["channel": .string("c"), "type": .string("t")], now: Timestamp(milliseconds: 0)), offset: 1),
                sub: subscribe.sub)
            guard case .object(let parsed)? = JSONParsing.value(from: frame), parsed["sub"] == subscribe.sub else {
                fatalError("a replayed frame does not carry its sub")
            }
        case .presenceEnter(let channel, let info), .presenceUpdate(let channel, let info):
            let member = PresenceMember(user: "u", info: info, connections: 1)
            _ = ServerFrame.presenceEvent(.join(channel: channel, member: member))
        default:
            break
        }
    } catch {
        _ = ServerFrame.error(id: id, error)
    }
    return 0
}

/// Numbers compared by value: Foundation reads `2.0` as an integer where the reader keeps a double.
func normalized(_ value: JSONValue) -> JSONValue {
    switch value {
    case .int(let i): return .double(Double(i))
    case .array(let a): return .array(a.map(normalized))
    case .object(let o): return .object(o.mapValues(normalized))
    default: return value
    }
}
