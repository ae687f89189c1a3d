/// What one fan-out run does, read from the command line once and passed to every part.
struct FanoutPlan {
    var server = ServerKind.concord
    var host = "127.0.0.1"
    /// Where the publisher connects, and the subscribers too unless `subscriberPorts` says otherwise.
    var port = 7700
    /// Several nodes: subscriber i connects to `subscriberPorts[i mod count]`; empty means `port`.
    var subscriberPorts: [Int] = []
    /// Each node's process, in the order of `subscriberPorts`: its CPU over the publish phase, per
    /// delivery to its own subscribers, and its memory per connection.
    var nodePIDs: [Int32] = []
    /// The Redis the nodes share: its CPU over the publish phase, per published event.
    var redisPID: Int32?
    /// Publish nothing: wait for `events` events that another generator publishes to the same channel.
    var listenOnly = false
    var subscribers = 1000
    /// Subscriber i joins channel i mod `channels`; event seq goes to channel seq mod `channels`.
    var channels = 1
    /// 0: no publishing; the subscribers stay idle for `idleSeconds` (memory and CPU of idle connections).
    var events = 200
    var idleSeconds = 5.0
    var payloadBytes = 200
    /// Events per second; 0 means as fast as the server delivers, bounded by `window`.
    var rate = 0.0
    var window = 4
    var apiKey = "bench-key"
    var channel = "bench/fanout"
    var publishPath = "/v1/publish"
    var serverPID: Int32?
    var connectConcurrency = 256
    var timeoutSeconds = 60

    var target: FanoutTarget { FanoutTarget(kind: server) }

    /// The ports subscribers spread over, one per node.
    var nodePorts: [Int] { subscriberPorts.isEmpty ? [port] : subscriberPorts }

    /// The node subscriber `index` connects to (an index into `nodePorts`).
    func node(ofSubscriber index: Int) -> Int { index % nodePorts.count }

    /// The processes whose CPU the run reads besides the server's: every node, then Redis.
    var processPIDs: [Int32] { nodePIDs + (redisPID.map { [$0] } ?? []) }

    var isIdle: Bool { events == 0 }

    /// Every channel's name, by index.
    func channelNames() -> [String] {
        let target = self.target
        return (0..<channels).map { target.channel($0, of: channels, base: channel) }
    }

    /// How many of the events go to channel `index`.
    func events(onChannel index: Int) -> Int {
        index < events ? (events - index + channels - 1) / channels : 0
    }
}
