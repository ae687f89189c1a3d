import ConcordCore

/// This node's open connections and what the connection limits count: connections in all and per
/// client address, WebSocket connections per user, and the WebSocket sessions by id, which is how
/// presence and editing sessions name them.
final class ConnectionTable {
    /// Every open connection by its session id (one table for all: a connection costs one entry).
    private(set) var all: [SessionID: Connection] = [:]
    private var perAddress: [String: Int] = [:]
    private var perUser: [String: Int] = [:]
    private var lastNumber: UInt64 = 0

    /// Open connections, HTTP and WebSocket.
    var count: Int { all.count }
    /// Open WebSocket connections.
    private(set) var webSocketCount = 0

    func count(from address: String) -> Int { perAddress[address, default: 0] }
    func count(of user: String) -> Int { perUser[user, default: 0] }

    /// The number the next connection gets (`c1`, `c2`, ... in logs and `welcome.session`).
    func nextNumber() -> UInt64 {
        lastNumber += 1
        return lastNumber
    }

    func opened(_ connection: Connection) {
        all[connection.session.id] = connection
        perAddress[connection.address, default: 0] += 1
    }

    /// After the upgrade: `connection.isWebSocket` is set.
    func upgraded(_ connection: Connection) {
        webSocketCount += 1
        if let user = connection.session.user { perUser[user, default: 0] += 1 }
    }

    /// Forgets a closed connection; for a WebSocket of a user, answers how many of that user's
    /// connections remain.
    func closed(_ connection: Connection) -> Int? {
        guard all.removeValue(forKey: connection.session.id) != nil else { return nil }
        Self.decrement(&perAddress, connection.address)
        guard connection.isWebSocket else { return nil }
        webSocketCount -= 1
        guard let user = connection.session.user else { return nil }
        return Self.decrement(&perUser, user)
    }

    /// The open WebSocket connection of a session, or nil once it has gone.
    func connection(of session: SessionID) -> Connection? {
        guard let connection = all[session], connection.isWebSocket else { return nil }
        return connection
    }

    func isOpen(_ connection: Connection) -> Bool { all[connection.session.id] != nil }

    @discardableResult
    private static func decrement(_ counts: inout [String: Int], _ key: String) -> Int {
        let remaining = (counts[key] ?? 1) - 1
        counts[key] = remaining > 0 ? remaining : nil
        return remaining
    }
}
