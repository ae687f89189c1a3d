import CSQLite

/// One open SQLite database handle: the only owner of the `sqlite3` pointer.
///
/// Not thread-safe (opened `NOMUTEX`): `RecordsDatabase` serialises every use behind its lock.
final class SQLiteConnection {
    private(set) var handle: OpaquePointer?
    let path: String

    init(path: String) throws(SQLiteStoreError) {
        self.path = path
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        // SQLite allocates a handle even when opening fails; it carries the message and must be closed.
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_close_v2(db)
            throw SQLiteStoreError.sqlite(code: rc, message: message, during: "opening \(path)")
        }
        handle = db
        // Extended codes tell a full disk from an I/O error in the messages operators see.
        sqlite3_extended_result_codes(db, 1)
    }

    deinit { close() }

    /// Runs SQL without results (pragmas that answer rows are read with `prepare`).
    func execute(_ sql: String) throws(SQLiteStoreError) {
        guard let handle else { throw .closed }
        let rc = sqlite3_exec(handle, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw failure(rc, during: sql) }
    }

    func prepare(_ sql: String) throws(SQLiteStoreError) -> SQLiteStatement {
        try SQLiteStatement(connection: self, sql: sql)
    }

    /// The first column of the first row, as an integer, or nil when there is no row.
    func integer(_ sql: String) throws(SQLiteStoreError) -> Int64? {
        let statement = try prepare(sql)
        defer { statement.finalize() }
        return try statement.step() ? statement.int64(at: 0) : nil
    }

    /// True outside an explicit transaction; a failed COMMIT can leave one open, to be rolled back.
    var isAutocommit: Bool { handle.map { sqlite3_get_autocommit($0) != 0 } ?? true }

    /// True when SQLite could only open the file read-only (the OS refuses writes).
    var isReadOnly: Bool { handle.map { sqlite3_db_readonly($0, "main") == 1 } ?? true }

    /// The error for result code `rc`, with SQLite's message for the last failed call.
    func failure(_ rc: Int32, during: String) -> SQLiteStoreError {
        let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
        return .sqlite(code: rc, message: message, during: during)
    }

    /// Closes the handle; statements must be finalized first, or SQLite keeps the file open.
    func close() {
        guard let handle else { return }
        sqlite3_close_v2(handle)
        self.handle = nil
    }
}
