/// What one presence run does, read from the command line once and passed to every part.
struct PresencePlan {
    var host = "127.0.0.1"
    var port = 7700
    /// Several nodes: user connection i connects to `userPorts[i mod count]`; empty means `port`.
    var userPorts: [Int] = []
    /// Watcher k connects to `watcherPorts[k mod count]`; empty means the users' ports.
    var watcherPorts: [Int] = []
    /// Every node's process: the CPU of each over the churn, per operation.
    var nodePIDs: [Int32] = []
    /// The Redis the nodes share: its CPU over the churn, per operation.
    var redisPID: Int32?
    /// Instead of the churn: kill -9 this node once everyone has entered, and time how long the
    /// watchers take to see every member leave (the users must all be on it, the watchers elsewhere).
    var killPID: Int32?
    /// Connections that enter presence, each as its own user.
    var connections = 2000
    /// Connections that watch every channel's presence, so joins and leaves are also fanned out.
    var watchers = 0
    var channels = 200
    var channelsPerConnection = 1
    /// Churn operations (leaves plus enters) over all connections.
    var ops = 100_000
    /// Commands one connection may have sent and not yet seen answered.
    var window = 8
    var channelPrefix = "presence/bench/"
    /// A typing storm instead: typing.start and typing.stop in place of presence.enter and leave.
    var typing = false
    var serverPID: Int32?
    var connectConcurrency = 256
    var timeoutSeconds = 60

    func userPort(_ index: Int) -> Int { userPorts.isEmpty ? port : userPorts[index % userPorts.count] }

    func watcherPort(_ index: Int) -> Int { watcherPorts.isEmpty ? userPort(index) : watcherPorts[index % watcherPorts.count] }

    /// The processes whose CPU the run reads besides the server's: every node, then Redis.
    var processPIDs: [Int32] { nodePIDs + (redisPID.map { [$0] } ?? []) }

    /// Presence entries in phase 1: every connection is its own user, so each entry is a member.
    var members: Int { connections * channelsPerConnection }

    func channel(_ number: Int) -> String { "\(channelPrefix)\(number)" }

    /// The channels connection `index` is present in: consecutive slots of one round robin over all
    /// channels, so every channel gets the same number of members (give or take one).
    func channels(ofConnection index: Int) -> [String] {
        (0..<channelsPerConnection).map { channel((index * channelsPerConnection + $0) % channels) }
    }

    /// Connection `index`'s equal share of the churn operations.
    func opsShare(ofConnection index: Int) -> Int {
        ops / connections + (index < ops % connections ? 1 : 0)
    }
}
