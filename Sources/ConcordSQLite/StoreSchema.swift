import CSQLite

/// The layout of `records.sqlite3`, and how an existing file is recognised as Concord's before
/// anything writes to it (so that pointing Concord at another program's database changes nothing).
enum StoreSchema {
    /// Raise when the layout or the stored JSON form changes; older Concords then refuse the file.
    static let version: Int64 = 1
    /// `PRAGMA application_id`, in the file header: "Cncd". Tools like `file` show it.
    static let applicationID: Int32 = 0x436E_6364

    static let create = """
        CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;
        INSERT INTO meta(key, value) VALUES ('schema', \(version));
        CREATE TABLE records(channel TEXT NOT NULL, id TEXT NOT NULL, state BLOB NOT NULL, PRIMARY KEY(channel, id)) WITHOUT ROWID;
        PRAGMA application_id = \(applicationID);
        """

    /// What the file holds: nothing yet, or Concord's tables at a schema version this build reads.
    enum Contents { case empty, current }

    /// Reads the header and the catalogue only. A file that is not SQLite fails here with
    /// `SQLITE_NOTADB`, and a foreign database is refused before the switch to WAL rewrites its header.
    static func inspect(_ connection: SQLiteConnection) throws(SQLiteStoreError) -> Contents {
        let path = connection.path
        let applicationID: Int64
        let tables: Int64
        do {
            applicationID = try connection.integer("PRAGMA application_id") ?? 0
            tables = try connection.integer("SELECT count(*) FROM sqlite_master") ?? 0
        } catch .sqlite(let code, let message, _) where code & 0xFF == SQLITE_NOTADB {
            throw .notAConcordStore(path: path, reason: message)
        } catch .sqlite(let code, _, _) where code & 0xFF == SQLITE_BUSY || code & 0xFF == SQLITE_LOCKED {
            throw .inUse(path: path)
        }
        if applicationID == 0 && tables == 0 { return .empty }
        guard applicationID == Int64(Self.applicationID) else {
            throw .notAConcordStore(
                path: path,
                reason: applicationID == 0
                    ? "it is another program's SQLite database"
                    : "its application id is 0x\(String(UInt32(truncatingIfNeeded: applicationID), radix: 16))")
        }
        let found: Int64?
        do {
            found = try connection.integer("SELECT value FROM meta WHERE key = 'schema'")
        } catch {
            throw .notAConcordStore(path: path, reason: "it has no schema version: \(error)")
        }
        guard let found, found >= 1 else { throw .notAConcordStore(path: path, reason: "it has no schema version") }
        guard found <= version else { throw .newerSchema(path: path, found: found, supported: version) }
        return .current
    }
}
