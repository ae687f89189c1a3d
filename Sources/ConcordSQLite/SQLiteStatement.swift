import CSQLite

/// A prepared statement, compiled once and reset between uses: the writer runs the same INSERT
/// for every record, so compiling it per row would cost more than the row.
final class SQLiteStatement {
    private var handle: OpaquePointer?
    private unowned let connection: SQLiteConnection
    let sql: String

    init(connection: SQLiteConnection, sql: String) throws(SQLiteStoreError) {
        self.connection = connection
        self.sql = sql
        guard let db = connection.handle else { throw .closed }
        let rc = sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &handle, nil)
        guard rc == SQLITE_OK else { throw connection.failure(rc, during: "preparing \(sql)") }
    }

    deinit { finalize() }

    /// Binds UTF-8 text with an explicit length: ids may contain NUL, which a C string would cut.
    func bind(_ text: String, at index: Int32) throws(SQLiteStoreError) {
        var text = text
        let rc = text.withUTF8 { utf8 -> Int32 in
            // A nil base address (an empty string) would bind SQL NULL; bind an empty text instead.
            guard let base = utf8.baseAddress, !utf8.isEmpty else {
                return sqlite3_bind_text(handle, index, "", 0, concord_sqlite_transient())
            }
            return base.withMemoryRebound(to: CChar.self, capacity: utf8.count) {
                sqlite3_bind_text(handle, index, $0, Int32(utf8.count), concord_sqlite_transient())
            }
        }
        guard rc == SQLITE_OK else { throw connection.failure(rc, during: "binding \(sql)") }
    }

    func bind(_ bytes: [UInt8], at index: Int32) throws(SQLiteStoreError) {
        let rc = bytes.withUnsafeBytes { raw -> Int32 in
            // As with text, a nil pointer would bind NULL rather than an empty blob.
            guard let base = raw.baseAddress, !raw.isEmpty else { return sqlite3_bind_zeroblob(handle, index, 0) }
            return sqlite3_bind_blob(handle, index, base, Int32(raw.count), concord_sqlite_transient())
        }
        guard rc == SQLITE_OK else { throw connection.failure(rc, during: "binding \(sql)") }
    }

    func bind(_ value: Int64, at index: Int32) throws(SQLiteStoreError) {
        let rc = sqlite3_bind_int64(handle, index, value)
        guard rc == SQLITE_OK else { throw connection.failure(rc, during: "binding \(sql)") }
    }

    /// Advances: true when a row is ready, false when the statement is done.
    func step() throws(SQLiteStoreError) -> Bool {
        switch sqlite3_step(handle) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let rc: throw connection.failure(rc, during: sql)
        }
    }

    /// Steps a statement that answers no rows, then resets it for its next use.
    func run() throws(SQLiteStoreError) {
        defer { reset() }
        _ = try step()
    }

    func int64(at column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

    func text(at column: Int32) -> String {
        let count = Int(sqlite3_column_bytes(handle, column))
        guard let base = sqlite3_column_text(handle, column), count > 0 else { return "" }
        return String(decoding: UnsafeBufferPointer(start: base, count: count), as: UTF8.self)
    }

    func bytes(at column: Int32) -> [UInt8] {
        // Read the pointer before the length: sqlite3_column_bytes after it keeps the blob form.
        let base = sqlite3_column_blob(handle, column)
        let count = Int(sqlite3_column_bytes(handle, column))
        guard let base, count > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Makes the statement reusable and drops its bound copies.
    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    func finalize() {
        sqlite3_finalize(handle)
        handle = nil
    }
}
