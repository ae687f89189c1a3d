import ConcordCore

/// Why the record store could not be opened, read or written, in words an operator can act on.
public enum SQLiteStoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The data directory could not be created, or is not a directory Concord may write in.
    case unusableDirectory(path: String, reason: String)
    /// The file exists but is not a Concord record store: another program's database, or not a database.
    case notAConcordStore(path: String, reason: String)
    /// The store was written by a newer Concord, whose schema this one does not know.
    case newerSchema(path: String, found: Int64, supported: Int64)
    /// Another process (most likely another Concord) has the store open.
    case inUse(path: String)
    /// A stored record could not be read back.
    case corruptRecord(path: String, key: RecordKey, reason: String)
    /// SQLite refused an operation: its result code, its message and what the store was doing.
    case sqlite(code: Int32, message: String, during: String)
    /// The store was closed before the operation could run.
    case closed

    public var description: String {
        switch self {
        case .unusableDirectory(let path, let reason):
            return "data directory \(path) is unusable: \(reason)"
        case .notAConcordStore(let path, let reason):
            return "\(path) is not a Concord record store (\(reason)); move it away or choose another data directory"
        case .newerSchema(let path, let found, let supported):
            return "\(path) has schema version \(found), but this Concord reads up to version \(supported); upgrade Concord"
        case .inUse(let path):
            return "\(path) is in use by another process; is another Concord running on this data directory?"
        case .corruptRecord(let path, let key, let reason):
            return "\(path): the stored state of \(key) is unreadable: \(reason)"
        case .sqlite(let code, let message, let during):
            return "SQLite error \(code) while \(during): \(message)"
        case .closed:
            return "the record store is closed"
        }
    }
}
