import ConcordCore
import ConcordServer
import Foundation
import Testing

/// A broker that cannot take anything now, as a shared broker can be when its connection is down.
private final class RefusingBroker: Broker {
    var onEvent: ((PublishedEvent) -> Void)?
    let usage = BrokerUsage(streams: 0, historyEvents: 0, historyBytes: 0)
    func subscribe(_ channel: String, since: StreamPosition?, done: @escaping (Result<BrokerSubscription, BrokerFailure>) -> Void) {
        done(.failure(BrokerFailure("the broker is down")))
    }
    func unsubscribe(_ channel: String) {}
    func publish(_ event: LiveEvent, at now: Timestamp, done: @escaping (Result<StreamPosition, BrokerFailure>) -> Void) {
        done(.failure(BrokerFailure("the broker is down")))
    }
    func history(_ channel: String, since: StreamPosition?, limit: Int, done: @escaping (Result<HistoryPage, BrokerFailure>) -> Void) {
        done(.failure(BrokerFailure("the broker is down")))
    }
    func sweep(now: Timestamp) {}
    func close() {}
}

/// What clients and backends are told when the broker refuses: `unavailable`, and nothing kept.
@Suite("Broker refusals")
struct BrokerRefusalTests {
    @Test func aRefusedSubscribeOrPublishIsUnavailableAndKeepsNothing() throws {
        let server = try TestServer {
            $0.makeBroker = { RefusingBroker() }
            $0.clientPublish = [ChannelPattern("chat/*")]
        }
        defer { server.stop() }
        let ws = try TestWebSocket(port: server.port)
        _ = try ws.expect(op: "welcome")
        for attempt in 1...2 {
            // Refused twice under the same name: the first refusal kept no subscription.
            try ws.send(json: #"{"op":"subscribe","id":\#(attempt),"sub":"s","channel":"chat/room"}"#)
            let refused = try ws.expect(op: "error")
            #expect(refused["id"] as? Int == attempt)
            #expect(refused["code"] as? String == "unavailable")
            #expect(refused["message"] as? String == "cannot subscribe now: the broker is down")
        }
        try ws.send(json: #"{"op":"publish","id":3,"event":{"channel":"chat/room","type":"t"}}"#)
        let unpublished = try ws.expect(op: "error")
        #expect(unpublished["code"] as? String == "unavailable")
        #expect(unpublished["message"] as? String == "cannot publish now: the broker is down")

        let http = try TestHTTP.publish(port: server.port, #"[{"channel":"a","type":"t"},{"channel":"b","type":"t"}]"#)
        #expect(http.status == 503)
        let error = http.json["error"] as? [String: Any]
        #expect(error?["code"] as? String == "unavailable")
        #expect(error?["message"] as? String == "0 of 2 events were published: the broker is down")
        let history = try TestHTTP.request(port: server.port, "GET", "/v1/history?channel=a", headers: ["Authorization": "Bearer test-key"])
        #expect(history.status == 503)
        #expect((history.json["error"] as? [String: Any])?["message"] as? String == "cannot read history now: the broker is down")
        #expect(try TestHTTP.request(port: server.port, "GET", "/metrics").text.contains("concord_subscriptions 0"))
    }
}
