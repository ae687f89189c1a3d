import ArgumentParser

/// The server a fan-out run talks to.
enum ServerKind: String, CaseIterable, ExpressibleByArgument {
    /// Concord: `/v1/ws`, a `welcome`, then the `subscribe` command; `POST /v1/publish` with the API key.
    case concord
    /// nginx with nchan (`bench/nchan.conf`): the upgrade to `/sub/CHANNEL` subscribes; `POST /pub/CHANNEL`.
    case nchan
    /// The libuv floor (`bench/floor.c`): `/sub/N`, any message subscribes; `POST /pub/N`.
    case floor
}

/// Everything the fan-out benchmark says differently to each server: where a subscriber connects,
/// how it subscribes, what an event push starts with, and the publish request. The connecting,
/// timing and counting code is the same for every server, and so is the published body (a JSON
/// object with `seq` and `t`): Concord wraps it in an `event` frame, nchan and the floor deliver it
/// as it is.
struct FanoutTarget {
    let kind: ServerKind
    /// The frame to wait for after the upgrade before subscribing; nil: subscribe at once.
    let welcomeMarker: [UInt8]?
    /// The reply that confirms a subscribe message; nil: the upgrade itself subscribes (nchan).
    let subscribedMarker: [UInt8]?
    /// Every event push starts with exactly these bytes.
    let eventPrefix: [UInt8]
    /// Marks an error frame from the server, when it sends any.
    let errorMarker: [UInt8]?

    init(kind: ServerKind) {
        self.kind = kind
        switch kind {
        case .concord:
            welcomeMarker = ConcordTarget.welcomeMarker
            subscribedMarker = ConcordTarget.subscribedMarker
            eventPrefix = ConcordTarget.eventPrefix
            errorMarker = ConcordTarget.errorMarker
        case .nchan:
            welcomeMarker = nil
            subscribedMarker = nil
            eventPrefix = NchanTarget.eventPrefix
            errorMarker = nil
        case .floor:
            welcomeMarker = nil
            subscribedMarker = NchanTarget.floorSubscribedMarker
            eventPrefix = NchanTarget.eventPrefix
            errorMarker = nil
        }
    }

    /// The name of channel `index` of `count`: nchan's location takes `\w+` and the floor a number,
    /// so both get the bare index; Concord gets `base` alone, or `base/index` when there are several.
    func channel(_ index: Int, of count: Int, base: String) -> String {
        switch kind {
        case .concord: count == 1 ? base : "\(base)/\(index)"
        case .nchan, .floor: "\(index)"
        }
    }

    func webSocketPath(channel: String) -> String {
        switch kind {
        case .concord: ConcordTarget.webSocketPath
        case .nchan, .floor: NchanTarget.subscribePath(channel: channel)
        }
    }

    func subscribeMessage(channel: String) -> [UInt8] {
        switch kind {
        case .concord: ConcordTarget.subscribeMessage(channel: channel)
        case .nchan, .floor: NchanTarget.floorSubscribeMessage
        }
    }

    /// The whole publish request for `body` on `channel`; `concordPath` is Concord's publish endpoint.
    func publishRequest(host: String, channel: String, apiKey: String, concordPath: String, body: [UInt8]) -> [UInt8] {
        switch kind {
        case .concord: ConcordTarget.publishRequest(host: host, path: concordPath, apiKey: apiKey, body: body)
        case .nchan, .floor: NchanTarget.publishRequest(host: host, channel: channel, body: body)
        }
    }

    /// Concord answers 200; nchan 201 (delivered to subscribers) or 202 (stored, nobody listening).
    func accepts(status: Int) -> Bool {
        kind == .concord ? status == 200 : (200..<300).contains(status)
    }
}
