/// What one fan-out run does, read from the command line once and passed to every part.
struct FanoutPlan {
    var host = "127.0.0.1"
    var port = 7700
    var subscribers = 1000
    var events = 200
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
}
