import ConcordCore

/// What one client's session holds beyond its socket: who it is and what it may do, its rate
/// buckets, and everything it subscribes to, watches or edits, counted here against the one
/// subscription limit. Backends never see it, only its `id`. A value kept inline in its
/// `Connection`: no object of its own, so an idle connection costs no more for it.
struct Session {
    let id: SessionID
    /// Who this is and what they may do; set at the upgrade, replaced by a token refresh.
    var principal = Principal.anonymous
    var user: String? { principal.user }
    /// Display name for typing events.
    var name: String? { principal.name }

    /// The user, for features that need one (presence, typing, editing, commits).
    func requireUser(_ feature: String) throws(ProtocolError) -> String {
        guard let user else {
            throw ProtocolError(.anonymous, "\(feature) needs a user: connect with ?user= (development mode) or a token")
        }
        return user
    }

    /// `--max-subscriptions`: channel subscriptions, presence and typing watches and editing
    /// sessions count together against it.
    let maxSubscriptions: Int32
    /// Channel subscriptions; the hub's registry keeps their names and filters.
    private(set) var channelSubscriptions: Int32 = 0
    /// Channels whose presence and typing this session watches.
    private(set) var presenceWatches: Set<String> = []
    private(set) var typingWatches: Set<String> = []
    /// Records this session declared it edits.
    private(set) var editing: Set<RecordKey> = []

    var publishBucket: TokenBucket?
    var typingBucket: TokenBucket?

    init(id: SessionID, maxSubscriptions: Int) {
        self.id = id
        self.maxSubscriptions = Int32(clamping: maxSubscriptions)
    }

    /// Everything that counts against the limit.
    var subscriptionCount: Int { Int(channelSubscriptions) + presenceWatches.count + typingWatches.count + editing.count }

    /// Room for one more subscription, watch or editing session, or `too_many_subscriptions`.
    func checkRoom() throws(ProtocolError) {
        guard subscriptionCount < Int(maxSubscriptions) else {
            throw ProtocolError(.tooManySubscriptions, "at most \(maxSubscriptions) subscriptions per connection")
        }
    }

    // MARK: Channels

    /// How many channel subscriptions the registry may still take for this session.
    var channelRoom: Int { Int(maxSubscriptions) - (subscriptionCount - Int(channelSubscriptions)) }

    mutating func channelSubscribed() { channelSubscriptions += 1 }
    mutating func channelUnsubscribed() { channelSubscriptions -= 1 }

    // MARK: Watches

    enum Watch {
        case presence, typing
    }

    mutating func watch(_ kind: Watch, _ channel: String) throws(ProtocolError) {
        guard !watches(kind).contains(channel) else {
            throw ProtocolError(.duplicateSubscription, "already watching \(channel)")
        }
        try checkRoom()
        switch kind {
        case .presence: presenceWatches.insert(channel)
        case .typing: typingWatches.insert(channel)
        }
    }

    mutating func unwatch(_ kind: Watch, _ channel: String) throws(ProtocolError) {
        let removed: String?
        switch kind {
        case .presence: removed = presenceWatches.remove(channel)
        case .typing: removed = typingWatches.remove(channel)
        }
        guard removed != nil else { throw ProtocolError(.unknownSubscription, "not watching \(channel)") }
    }

    func watches(_ kind: Watch) -> Set<String> {
        switch kind {
        case .presence: return presenceWatches
        case .typing: return typingWatches
        }
    }

    // MARK: Editing

    /// Declares an edit; a record already edited takes no more room.
    mutating func startEditing(_ key: RecordKey) throws(ProtocolError) {
        guard !editing.contains(key) else { return }
        try checkRoom()
        editing.insert(key)
    }

    /// Ends an edit; false when the session was not editing the record.
    mutating func stopEditing(_ key: RecordKey) -> Bool {
        editing.remove(key) != nil
    }
}
