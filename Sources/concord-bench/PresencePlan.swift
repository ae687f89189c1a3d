/// What one presence run does, read from the command line once and passed to every part.
struct PresencePlan {
    var host = "127.0.0.1"
    var port = 7700
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
