import ConcordCore
import Foundation
import Testing
@testable import ConcordSQLite

@Suite("SQLite record store: opening, refusing and reporting")
struct SQLiteStoreOpeningTests {
    func openingError(_ directory: String) -> SQLiteStoreError? {
        do {
            let store = try SQLiteRecordStore(directory: directory)
            store.close()
            return nil
        } catch {
            return error as? SQLiteStoreError
        }
    }

    @Test func aNewStoreHasTheSchemaWalAndItsMarker() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try SQLiteRecordStore(directory: dir.path)
        #expect(store.path == dir.storeFile)
        #expect(FileManager.default.fileExists(atPath: dir.storeFile + "-wal"))
        store.close()
        let header = try #require(FileManager.default.contents(atPath: dir.storeFile))
        #expect(Array(header.prefix(16)) == Array("SQLite format 3\0".utf8))
        // Bytes 18 and 19 are 2 in WAL mode; 68...71 hold the application id "Cncd".
        #expect(header[18] == 2 && header[19] == 2)
        #expect(Array(header[68..<72]) == Array("Cncd".utf8))
    }

    @Test func aDirectoryUnderAFileIsAnUnusableDirectory() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: dir.path + "/plain", contents: Data("x".utf8))
        let error = openingError(dir.path + "/plain/data")
        guard case .unusableDirectory(let path, let reason) = error else {
            Issue.record("expected an unusable directory, got \(String(describing: error))")
            return
        }
        #expect(path == dir.path + "/plain/data")
        #expect(reason.contains("Not a directory"))
        #expect(error!.description.hasPrefix("data directory \(dir.path)/plain/data is unusable"))
    }

    @Test func aFileInPlaceOfTheDirectoryIsRefused() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: dir.path + "/plain", contents: Data("x".utf8))
        #expect(openingError(dir.path + "/plain") == .unusableDirectory(path: dir.path + "/plain", reason: "it is not a directory"))
    }

    @Test func aReadOnlyDirectoryIsRefused() throws {
        // Root writes through permission bits, so only an unprivileged run can see this refusal.
        guard geteuid() != 0 else { return }
        let dir = TemporaryDirectory()
        defer { chmod(dir.path, 0o755); dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: true)
        chmod(dir.path, 0o555)
        guard case .unusableDirectory(_, let reason) = openingError(dir.path) else {
            Issue.record("expected an unusable directory")
            return
        }
        #expect(reason.contains("not writable"))
    }

    @Test func aFileThatIsNotADatabaseIsRefusedAndLeftAlone() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: true)
        let text = Data(String(repeating: "these are somebody's notes, not a database\n", count: 200).utf8)
        _ = FileManager.default.createFile(atPath: dir.storeFile, contents: text)
        let error = openingError(dir.path)
        guard case .notAConcordStore(let path, _) = error else {
            Issue.record("expected not a Concord store, got \(String(describing: error))")
            return
        }
        #expect(path == dir.storeFile)
        #expect(error!.description.contains("is not a Concord record store"))
        #expect(FileManager.default.contents(atPath: dir.storeFile) == text)
    }

    @Test func anotherProgramsDatabaseIsRefusedAndLeftAlone() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: true)
        let other = try SQLiteConnection(path: dir.storeFile)
        try other.execute("CREATE TABLE photos(id INTEGER PRIMARY KEY, path TEXT); INSERT INTO photos(path) VALUES ('a.jpg')")
        other.close()
        let before = FileManager.default.contents(atPath: dir.storeFile)
        #expect(openingError(dir.path) == .notAConcordStore(path: dir.storeFile, reason: "it is another program's SQLite database"))
        // Not switched to WAL, not given Concord's tables.
        #expect(FileManager.default.contents(atPath: dir.storeFile) == before)
    }

    @Test func aStoreFromANewerConcordIsRefused() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try SQLiteRecordStore(directory: dir.path).close()
        let later = try SQLiteConnection(path: dir.storeFile)
        try later.execute("UPDATE meta SET value = 7 WHERE key = 'schema'")
        later.close()
        #expect(openingError(dir.path) == .newerSchema(path: dir.storeFile, found: 7, supported: StoreSchema.version))
    }

    @Test func aSecondOpenWhileTheFirstRunsIsRefused() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let first = try SQLiteRecordStore(directory: dir.path)
        #expect(openingError(dir.path) == .inUse(path: dir.storeFile))
        // The first is unaffected, and once it closes the store opens again.
        #expect(persistAndWait(first, [(RecordKey(channel: "c", id: "1"), RecordState())]) == nil)
        first.close()
        #expect(openingError(dir.path) == nil)
    }

    @Test func anUnreadableRecordNamesItsKey() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try SQLiteRecordStore(directory: dir.path).close()
        let tamper = try SQLiteConnection(path: dir.storeFile)
        try tamper.execute("INSERT INTO records(channel, id, state) VALUES ('resources/posts', '7', X'7B7D7D')")
        tamper.close()
        let store = try SQLiteRecordStore(directory: dir.path)
        defer { store.close() }
        // Only the record itself fails; the store opened without reading it.
        let key = RecordKey(channel: "resources/posts", id: "7")
        guard case .failure(let failure) = readAndWait(store, [key]) else {
            Issue.record("a corrupt record must fail to read")
            return
        }
        #expect(failure.reason.contains(key.description))
        #expect(try readAndWait(store, [RecordKey(channel: "resources/posts", id: "8")]).get() == [nil])
    }

    @Test func populateWritesLoadableSyntheticRecords() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try SQLiteRecordStore.populate(directory: dir.path, count: 12_000)
        let store = try SQLiteRecordStore(directory: dir.path)
        defer { store.close() }
        #expect(try store.ids(in: "resources/bench", limit: .max).count == 12_000)
        let sample = try #require(try readAndWait(store, [RecordKey(channel: "resources/bench", id: "11001")]).get()[0])
        #expect(sample == SQLiteRecordStore.syntheticState(11000))
        #expect(sample.actors.count == 3 && sample.fields.count == 5)
    }
}
