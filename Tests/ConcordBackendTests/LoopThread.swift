import ConcordUV
import Foundation

/// An `EventLoop` running on a thread of its own, as the server's does; tests hand it work and wait
/// for the answer the work gives back on the loop thread.
final class LoopThread: @unchecked Sendable {
    let loop: EventLoop
    private var mailbox: LoopMailbox<Work>!
    /// Keeps the loop running until `stop` (the mailbox alone does not).
    private var keepAlive: LoopAsync!
    private let finished = DispatchSemaphore(value: 0)

    struct Work: @unchecked Sendable {
        let body: () -> Void
    }

    init() throws {
        loop = try EventLoop()
        mailbox = try LoopMailbox(loop: loop) { works in works.forEach { $0.body() } }
        keepAlive = try LoopAsync(loop: loop) {}
        let thread = Thread { [self] in
            loop.run()
            finished.signal()
        }
        thread.start()
    }

    /// Runs `body` on the loop thread and waits (up to `timeout` seconds) for it to call back.
    func ask<T>(timeout: Double = 10, _ body: @escaping (_ answer: @escaping (T) -> Void) -> Void) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let box = Box<T>()
        mailbox.post(
            Work {
                body { value in
                    box.value = value
                    done.signal()
                }
            })
        guard done.wait(timeout: .now() + timeout) == .success, let value = box.value else {
            throw TimedOut()
        }
        return value
    }

    /// Runs `body` on the loop thread and waits until it has run.
    func sync(_ body: @escaping () -> Void) throws {
        let _: Bool = try ask { answer in
            body()
            answer(true)
        }
    }

    func stop() {
        try? sync { [self] in
            mailbox.close()
            keepAlive.close()
        }
        finished.wait()
        loop.close()
    }

    struct TimedOut: Error {}

    private final class Box<T>: @unchecked Sendable {
        var value: T?
    }
}
