import Testing
@testable import ConcordCore

@Suite("Presence, keyed by user")
struct PresenceRegistryTests {
    let info: JSONValue = .object(["name": .string("Alice")])

    @Test func joinOnFirstSessionLeaveOnLast() throws {
        var presence = PresenceRegistry<Int>()
        let join = try presence.enter(1, user: "alice", channel: "p", info: info, limit: 10)
        #expect(join == .join(channel: "p", member: PresenceMember(user: "alice", info: info, connections: 1)))
        // A second tab is no second join: the member's connection count goes up.
        #expect(
            try presence.enter(2, user: "alice", channel: "p", info: info, limit: 10)
                == .update(channel: "p", member: PresenceMember(user: "alice", info: info, connections: 2)))
        #expect(presence.members(of: "p", limit: 10).members.first?.connections == 2)
        // Closing one of two tabs is no leave either.
        #expect(
            try presence.leave(1, channel: "p")
                == .update(channel: "p", member: PresenceMember(user: "alice", info: info, connections: 1)))
        let leave = try presence.leave(2, channel: "p")
        #expect(leave == .leave(channel: "p", member: PresenceMember(user: "alice", info: info, connections: 0)))
        #expect(presence.memberCount == 0 && presence.channelCount == 0)
    }

    @Test func updateFromAnyTabUpdatesTheMember() throws {
        var presence = PresenceRegistry<Int>()
        _ = try presence.enter(1, user: "alice", channel: "p", info: info, limit: 10)
        _ = try presence.enter(2, user: "alice", channel: "p", info: info, limit: 10)
        let editing: JSONValue = .object(["name": .string("Alice"), "field": .string("title")])
        #expect(
            try presence.update(2, channel: "p", info: editing) == .update(channel: "p", member: PresenceMember(user: "alice", info: editing, connections: 2)))
        #expect(try presence.update(1, channel: "p", info: editing) == nil)
        #expect(presence.members(of: "p", limit: 10).members.first?.info == editing)
        #expect(throws: ProtocolError.self) { try presence.update(3, channel: "p", info: editing) }
    }

    @Test func removeAllReportsEveryChannelLeft() throws {
        var presence = PresenceRegistry<Int>()
        _ = try presence.enter(1, user: "alice", channel: "a", info: info, limit: 10)
        _ = try presence.enter(1, user: "alice", channel: "b", info: info, limit: 10)
        _ = try presence.enter(2, user: "alice", channel: "b", info: info, limit: 10)
        let changes = presence.removeAll(1)
        #expect(
            changes == [
                .leave(channel: "a", member: PresenceMember(user: "alice", info: info, connections: 0)),
                .update(channel: "b", member: PresenceMember(user: "alice", info: info, connections: 1)),
            ])
        #expect(presence.memberCount(of: "b") == 1)
    }

    @Test func snapshotsAreCappedWithTheTotal() throws {
        var presence = PresenceRegistry<Int>()
        for i in 0..<5 { _ = try presence.enter(i, user: "u\(i)", channel: "p", info: .null, limit: 10) }
        let snapshot = presence.members(of: "p", limit: 3)
        #expect(snapshot.total == 5)
        #expect(snapshot.members.map(\.user) == ["u0", "u1", "u2"])
    }

    @Test func limitsPerSession() throws {
        var presence = PresenceRegistry<Int>()
        _ = try presence.enter(1, user: "alice", channel: "a", info: .null, limit: 1)
        #expect(throws: ProtocolError.self) { try presence.enter(1, user: "alice", channel: "b", info: .null, limit: 1) }
        #expect(presence.channels(of: 1) == 1)
    }

    @Test func ttlEntriesExpireAtTheExactDeadline() throws {
        var presence = PresenceRegistry<String>()
        _ = try presence.enter("backend-dave", user: "dave", channel: "p", info: .null, limit: 1)
        presence.setExpiry("backend-dave", at: 30_000)
        #expect(presence.expire(now: 29_999) == [])
        // A refresh moves the deadline.
        presence.setExpiry("backend-dave", at: 40_000)
        #expect(presence.expire(now: 30_000) == [])
        #expect(presence.expire(now: 40_000) == [.leave(channel: "p", member: PresenceMember(user: "dave", info: .null, connections: 0))])
        #expect(presence.expiringSessionCount == 0)
    }
}
