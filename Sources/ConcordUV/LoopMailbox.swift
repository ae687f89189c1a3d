import CLibUV

/// Hands messages from other threads to the loop thread: `post` from anywhere, and the handler
/// runs on the loop thread with every message posted since it last ran, in posting order.
public final class LoopMailbox<Message>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<uv_mutex_t>
    private var messages: [Message] = []
    private var wakeup: LoopAsync?

    public init(loop: EventLoop, _ handler: @escaping ([Message]) -> Void) throws(UVError) {
        mutex = .allocate(capacity: 1)
        let result = uv_mutex_init(mutex)
        guard result == 0 else {
            mutex.deallocate()
            throw UVError(result)
        }
        do {
            wakeup = try LoopAsync(loop: loop) { [unowned self] in
                let taken = self.take()
                if !taken.isEmpty { handler(taken) }
            }
        } catch {
            uv_mutex_destroy(mutex)
            mutex.deallocate()
            throw error
        }
        // Waiting for a message must not keep the loop alive on its own.
        wakeup?.unref()
    }

    deinit {
        uv_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Safe from any thread.
    public func post(_ message: Message) {
        uv_mutex_lock(mutex)
        defer { uv_mutex_unlock(mutex) }
        // Sent under the lock, so that `close` cannot free the handle in between.
        guard let wakeup else { return }
        messages.append(message)
        wakeup.send()
    }

    private func take() -> [Message] {
        uv_mutex_lock(mutex)
        defer { uv_mutex_unlock(mutex) }
        let taken = messages
        messages = []
        return taken
    }

    /// Closes the loop handle; messages posted afterwards are dropped. Loop thread only.
    public func close() {
        uv_mutex_lock(mutex)
        let handle = wakeup
        wakeup = nil
        uv_mutex_unlock(mutex)
        handle?.close()
    }
}
