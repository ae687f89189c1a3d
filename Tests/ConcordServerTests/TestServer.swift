import Synchronization
import ConcordServer
import Foundation
import Logging

/// A real Concord server on an ephemeral loopback port, run on its own thread for one test.
final class TestServer: @unchecked Sendable {
    let port: Int
    private let server: ConcordServer
    private let finished = DispatchSemaphore(value: 0)

    init(_ configure: (inout ServerConfiguration) -> Void = { _ in }) throws {
        var config = ServerConfiguration()
        config.port = 0
        config.apiKeys = ["test-key"]
        config.dataDirectory = nil
        configure(&config)
        let settings = config
        let ready = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: Result<(ConcordServer, Int), any Error>!
        let finished = self.finished
        let thread = Thread {
            do {
                var logger = Logger(label: "concord-test")
                logger.logLevel = .warning
                let server = try ConcordServer(configuration: settings, logger: logger)
                let port = try server.bind()
                result = .success((server, port))
                ready.signal()
                server.run()
            } catch {
                result = .failure(error)
                ready.signal()
            }
            finished.signal()
        }
        thread.start()
        ready.wait()
        (server, port) = try result.get()
    }

    /// Moves the server's clock (given as `ServerConfiguration.clock`) and waits until every
    /// deadline then due has run.
    func advance(_ clock: ManualClock, by milliseconds: Int64) {
        clock.advance(by: milliseconds)
        checkDeadlines()
    }

    /// Runs every deadline due by the server's clock now, and waits until they have run.
    func checkDeadlines() {
        let ran = DispatchSemaphore(value: 0)
        server.checkDeadlines { ran.signal() }
        ran.wait()
    }

    /// How many connections the server holds open now, as its loop counts them.
    func openConnections() -> Int {
        let counted = DispatchSemaphore(value: 0)
        let count = Mutex(0)
        server.countConnections { n in
            count.withLock { $0 = n }
            counted.signal()
        }
        counted.wait()
        return count.withLock { $0 }
    }

    /// Waits until the server's loop has seen connections come or go to `count` (up to 5 s, then
    /// the test's next expectation says what went wrong).
    func waitForConnections(_ count: Int) {
        let deadline = Date().addingTimeInterval(5)
        while openConnections() != count, Date() < deadline {}
    }

    /// Asks the server to shut down (as SIGTERM does) without waiting for it.
    func requestStop() {
        server.requestStop()
    }

    /// Stops the server and waits until its loop has ended.
    func stop() {
        server.requestStop()
        finished.wait()
    }

    deinit {}
}
