#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The data directory as the file system sees it: created when missing, checked, and synced.
enum DataDirectory {
    /// Creates `path` and its missing parents (like `mkdir -p`), then checks that Concord may
    /// create files in it, so that the operator reads about the directory rather than a SQLite code.
    static func prepare(_ path: String) throws(SQLiteStoreError) {
        guard !path.isEmpty else { throw .unusableDirectory(path: path, reason: "the path is empty") }
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw .unusableDirectory(path: path, reason: "cannot create \(prefix): \(errorText())")
            }
            prefix += "/"
        }
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw .unusableDirectory(path: path, reason: errorText())
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw .unusableDirectory(path: path, reason: "it is not a directory")
        }
        guard access(path, W_OK | X_OK) == 0 else {
            throw .unusableDirectory(path: path, reason: "it is not writable: \(errorText())")
        }
    }

    /// Fsyncs the directory itself, so that the names of newly created files (the database and its
    /// write-ahead log) survive a power loss along with their contents.
    static func sync(_ path: String) throws(SQLiteStoreError) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw .unusableDirectory(path: path, reason: "cannot open it to sync: \(errorText())") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw .unusableDirectory(path: path, reason: "cannot sync it: \(errorText())") }
    }

    /// Takes an exclusive lock on the directory for this process's lifetime (released when `fd`
    /// closes, or when the process dies): one Concord per data directory, since each caches
    /// records and two would accept conflicting commits. Nil when another process holds it.
    static func lock(_ path: String) throws(SQLiteStoreError) -> Int32? {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .unusableDirectory(path: path, reason: "cannot open it to lock: \(errorText())") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let busy = errno == EWOULDBLOCK
            let reason = errorText()
            close(fd)
            if busy { return nil }
            throw .unusableDirectory(path: path, reason: "cannot lock it: \(reason)")
        }
        return fd
    }

    /// Releases a lock taken with `lock`.
    static func unlock(_ fd: Int32) {
        if fd >= 0 { close(fd) }
    }

    private static func errorText() -> String { String(cString: strerror(errno)) }
}
