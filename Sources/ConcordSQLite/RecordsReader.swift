import ConcordCore
import Foundation

/// The one thread that reads records for the server's cache misses, on its own connection: it
/// takes every request waiting in its queue, looks each key up in one read transaction, decodes
/// the states, and answers each request in order. The loop thread only queues.
final class RecordsReader: @unchecked Sendable {
    typealias Done = @Sendable (Result<[RecordState?], RecordReadFailure>) -> Void

    private struct Request {
        var keys: [RecordKey]
        var done: Done
    }

    private let path: String
    private let connection: SQLiteConnection
    private let begin: SQLiteStatement
    private let select: SQLiteStatement
    private let end: SQLiteStatement
    private var thread: BatchingThread<Request>!

    /// Opens a second connection to the store at `path`, which `RecordsDatabase` has created.
    init(path: String) throws(SQLiteStoreError) {
        self.path = path
        connection = try SQLiteConnection(path: path)
        do {
            try connection.execute("PRAGMA query_only = ON")
            // Another process holding a lock for a moment (a backup) delays this thread, not the loop.
            try connection.execute("PRAGMA busy_timeout = 5000")
            // Interior pages of the key index stay cached across reads: 16 MiB, not the 2 MiB default.
            try connection.execute("PRAGMA cache_size = -16384")
            begin = try connection.prepare("BEGIN")
            select = try connection.prepare("SELECT state FROM records WHERE channel = ?1 AND id = ?2")
            end = try connection.prepare("COMMIT")
        } catch {
            connection.close()
            throw error
        }
        thread = BatchingThread(
            name: "concord-store-reader",
            work: { [unowned self] requests in
                for (request, answer) in zip(requests, read(requests)) { request.done(answer) }
            },
            finish: { [unowned self] in
                for statement in [begin, select, end] { statement.finalize() }
                connection.close()
            })
    }

    /// Queues a read; never blocks on I/O. False once closing, when the request was not taken.
    func enqueue(_ keys: [RecordKey], done: @escaping Done) -> Bool {
        thread.enqueue(Request(keys: keys, done: done))
    }

    /// Answers what is queued, stops the thread and closes the connection; returns once done.
    func close() {
        thread.close()
    }

    /// Every request's keys in one read transaction: one snapshot, one lock, however many keys.
    private func read(_ requests: [Request]) -> [Result<[RecordState?], RecordReadFailure>] {
        do throws(SQLiteStoreError) {
            try begin.run()
        } catch {
            return Array(repeating: .failure(RecordReadFailure(error.description)), count: requests.count)
        }
        defer { try? end.run() }
        return requests.map { request in
            var states: [RecordState?] = []
            states.reserveCapacity(request.keys.count)
            for key in request.keys {
                do throws(SQLiteStoreError) {
                    states.append(try state(of: key))
                } catch {
                    return .failure(RecordReadFailure(error.description))
                }
            }
            return .success(states)
        }
    }

    private func state(of key: RecordKey) throws(SQLiteStoreError) -> RecordState? {
        defer { select.reset() }
        try select.bind(key.channel, at: 1)
        try select.bind(key.id, at: 2)
        guard try select.step() else { return nil }
        do throws(RecordStateJSONError) {
            return try RecordState(json: select.bytes(at: 0))
        } catch {
            throw .corruptRecord(path: path, key: key, reason: error.description)
        }
    }
}
