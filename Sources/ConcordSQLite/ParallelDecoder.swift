import ConcordCore
import Dispatch
import Foundation

/// Decodes stored states on every core: at startup the store decodes every record it holds, and
/// decoding (allocating each state's dictionaries), not SQLite, is most of that time.
struct ParallelDecoder {
    /// Rows read before each parallel decode: large enough to keep every core busy, small enough
    /// that the undecoded copies stay a few megabytes.
    static let chunkSize = 16_384

    let path: String
    private let parts = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8))
    private(set) var records: [(RecordKey, RecordState)] = []
    private var pending: [(RecordKey, [UInt8])] = []

    init(path: String) {
        self.path = path
        pending.reserveCapacity(Self.chunkSize)
    }

    mutating func append(_ key: RecordKey, _ json: [UInt8]) throws(SQLiteStoreError) {
        pending.append((key, json))
        if pending.count == Self.chunkSize { try flush() }
    }

    /// Decodes what is pending; call once more after the last row.
    mutating func flush() throws(SQLiteStoreError) {
        guard !pending.isEmpty else { return }
        defer { pending.removeAll(keepingCapacity: true) }
        let rows = pending
        let parts = rows.count < 1024 ? 1 : self.parts
        // One slot per part, each written by exactly one worker, read after all of them finished.
        let slots = UnsafeMutableBufferPointer<Result<[(RecordKey, RecordState)], SQLiteStoreError>>.allocate(capacity: parts)
        slots.initialize(repeating: .success([]))
        defer { slots.deinitialize(); slots.deallocate() }
        let path = self.path
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            let range = (rows.count * part / parts)..<(rows.count * (part + 1) / parts)
            var decoded: [(RecordKey, RecordState)] = []
            decoded.reserveCapacity(range.count)
            for (key, json) in rows[range] {
                do throws(RecordStateJSONError) {
                    decoded.append((key, try RecordState(json: json)))
                } catch {
                    slots[part] = .failure(.corruptRecord(path: path, key: key, reason: error.description))
                    return
                }
            }
            slots[part] = .success(decoded)
        }
        for slot in slots { records.append(contentsOf: try slot.get()) }
    }
}
