import ConcordCore

/// The records feature: the `record.*` commands, editing sessions and their stale warnings, the
/// per-user commit rate, and the commit path that the HTTP API and the demo share. Owns its state;
/// reaches the server for what every feature shares (authorization, connections, publishing).
final class RecordsFeature {
    private unowned let server: ConcordServer
    /// Who edits which record on which context: the source of early warnings.
    private var editing = EditingSessions<SessionID>()
    /// Commits per user across their WebSocket connections.
    private var commitBuckets: [String: TokenBucket] = [:]

    /// Hears every accepted commit once it is durable (the demo keeps its list of posts this way).
    var onAccepted: ((RecordKey, RecordState) -> Void)?

    init(server: ConcordServer) {
        self.server = server
        // Another node's commit warns this node's editors as a local one does; it was published
        // where it was made. Created with the first record command, before anyone edits here.
        server.records.onRemoteChange = { [unowned self] change in
            onAccepted?(change.key, change.state)
            warnStaleEditors(change.key, change.accepted, change.state)
        }
    }

    private var records: RecordService { server.records }
    private var configuration: ServerConfiguration { server.configuration }

    /// A connection closed: its editing sessions end; the user's commit budget goes with their
    /// last connection.
    func connectionClosed(_ connection: Connection, lastOfUser: Bool) {
        editing.removeAll(connection.session.id)
        if lastOfUser, let user = connection.session.user { commitBuckets[user] = nil }
    }

    /// Each command waits for the record's state when it is not in memory; commands on one record
    /// are answered in the order they came, and errors found then are answered with the command's id.
    /// The callbacks hold the connection strongly, for the moment until they run: a weak reference
    /// would give the connection a side table, and every retain on the delivery path would then
    /// take the slow route (a third more instructions per delivery, measured).
    func handle(_ command: ClientCommand, id: JSONValue?, from connection: Connection) throws(ProtocolError) {
        let unavailable: () -> Void = {
            connection.sendText(ServerFrame.error(id: id, .storeUnavailable))
        }
        switch command {
        case .recordGet(let key):
            try server.auth.authorize(connection, [.subscribe, .commit], on: key.channel)
            records.read(key, failed: unavailable) { state in
                connection.sendText(ServerFrame.recordState("record.state", id: id, key: key, state: state))
            }
        case .recordEdit(let key, let context):
            let user = try connection.session.requireUser("editing")
            try server.auth.authorize(connection, .commit, on: key.channel)
            records.read(key, failed: unavailable) { [unowned self] state in
                guard server.isOpen(connection) else { return }
                do throws(ProtocolError) {
                    try RecordRules.checkContext(state, context)
                    try startEditing(connection, user: user, key: key, context: context)
                    connection.sendText(ServerFrame.recordReply("record.editing", id: id, key: key))
                } catch {
                    connection.sendText(ServerFrame.error(id: id, error))
                }
            }
        case .recordStop(let key):
            records.inOrder(key) { [unowned self] in
                guard server.isOpen(connection) else { return }
                guard connection.session.stopEditing(key) else {
                    return connection.sendText(ServerFrame.error(id: id, ProtocolError(.unknownSubscription, "not editing \(key.channel) record \(key.id)")))
                }
                editing.leave(connection.session.id, key: key)
                connection.sendText(ServerFrame.recordReply("record.stopped", id: id, key: key))
            }
        case .recordCommit(let key, let context, let fields):
            let actor = try connection.session.requireUser("committing")
            try server.auth.authorize(connection, .commit, on: key.channel)
            try takeCommitToken(actor)
            commit(key, Commit(actor: actor, context: context, fields: fields), delete: false) { result in
                connection.sendText(Self.reply(result, id: id, key: key))
            }
        case .recordDelete(let key, let context):
            let actor = try connection.session.requireUser("deleting")
            try server.auth.authorize(connection, .commit, on: key.channel)
            try takeCommitToken(actor)
            commit(key, Commit(actor: actor, context: context, fields: nil), delete: true) { result in
                connection.sendText(Self.reply(result, id: id, key: key))
            }
        default:
            break
        }
    }

    private func startEditing(_ connection: Connection, user: String, key: RecordKey, context: VersionVector) throws(ProtocolError) {
        try connection.session.startEditing(key)
        editing.edit(connection.session.id, user: user, key: key, context: context)
    }

    /// Commits are limited per user, across all of the user's connections.
    private func takeCommitToken(_ user: String) throws(ProtocolError) {
        var bucket = commitBuckets[user]
        defer { commitBuckets[user] = bucket }
        try server.takeToken(
            from: &bucket, burst: configuration.commitBurst, perSecond: configuration.commitPerSecond,
            limit: .commitRate, what: "commits")
    }

    static func reply(_ result: CommitResult, id: JSONValue?, key: RecordKey) -> [UInt8] {
        switch result {
        case .outcome(.accepted(let accepted)): return ServerFrame.committed("record.committed", id: id, key: key, accepted)
        case .outcome(.conflict(let conflict)): return ServerFrame.conflict("record.conflict", id: id, key: key, conflict)
        case .refused(let error): return ServerFrame.error(id: id, error)
        case .wouldBeAccepted: return ServerFrame.error(id: id, ProtocolError(.internal, "dry runs are an HTTP request"))
        case .unavailable: return ServerFrame.error(id: id, .storeUnavailable)
        case .contended: return ServerFrame.error(id: id, .recordContended)
        }
    }

    /// Checks a commit or delete; an accepted one is made durable first, then acknowledged,
    /// published on the record's channel, and warned to stale editors, in that order.
    func commit(_ key: RecordKey, _ commit: Commit, delete: Bool, dryRun: Bool = false, answer: @escaping (CommitResult) -> Void) {
        records.commit(key, commit, delete: delete, dryRun: dryRun, now: server.now()) { [unowned self] result, state in
            answer(result)
            guard case .outcome(.accepted(let accepted)) = result, let state else { return }
            onAccepted?(key, state)
            publishCommit(key, accepted)
            warnStaleEditors(key, accepted, state)
        }
    }

    /// Every editor whose context the commit made stale hears it, with the fields that changed.
    private func warnStaleEditors(_ key: RecordKey, _ accepted: CommitOutcome.Accepted, _ state: RecordState) {
        for (session, changes) in editing.staleEditors(of: key, after: accepted, state: state) {
            guard let editor = server.connections.connection(of: session) else { continue }
            editor.sendText(
                ServerFrame.stale(
                    key: key, by: accepted.dot.actor, deleted: accepted.deleted,
                    version: accepted.version, changes: changes))
        }
    }

    /// The Refine event for an accepted commit: `updated` (or `deleted`) with the record's id.
    private func publishCommit(_ key: RecordKey, _ accepted: CommitOutcome.Accepted) {
        var payload: [String: JSONValue] = [
            "ids": .array([.string(key.id)]),
            "version": .object(accepted.version.counters.mapValues { .int(Int64($0)) }),
            "actor": .string(accepted.dot.actor),
        ]
        if !accepted.deleted { payload["fields"] = .array(accepted.fields.map { .string($0) }) }
        let json: [String: JSONValue] = [
            "channel": .string(key.channel),
            "type": .string(accepted.deleted ? "deleted" : "updated"),
            "payload": .object(payload),
        ]
        if let event = try? LiveEvent(json: json, now: server.now()) { server.channels.publish(event) }
    }
}
