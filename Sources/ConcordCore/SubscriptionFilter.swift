/// What one subscription wants from its channel: Refine's type and id filter, applied before sending.
public struct SubscriptionFilter: Sendable, Equatable {
    /// nil means every type (`"*"`).
    public var types: Set<String>?
    /// nil means every id.
    public var ids: Set<String>?

    public init(types: [String] = ["*"], ids: [String]? = nil) {
        self.types = types.contains("*") ? nil : Set(types)
        self.ids = ids.map(Set.init)
    }

    /// Refine's semantics: the type must be wanted; then `created` always passes, and otherwise, when
    /// both the subscription and the event name ids, they must share one.
    public func admits(type: String, ids eventIDs: [String]?) -> Bool {
        if let types, !types.contains(type) { return false }
        if type == "created" { return true }
        guard let ids, let eventIDs else { return true }
        return eventIDs.contains(where: ids.contains)
    }

    public func admits(_ event: LiveEvent) -> Bool {
        admits(type: event.type, ids: event.ids)
    }
}
