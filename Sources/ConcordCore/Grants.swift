/// Capabilities per channel pattern, as a token's `caps` claim or a server flag gives them.
public struct Grants: Sendable, Equatable {
    public struct Rule: Sendable, Equatable {
        public var pattern: ChannelPattern
        public var capabilities: Capabilities

        public init(_ pattern: ChannelPattern, _ capabilities: Capabilities) {
            self.pattern = pattern
            self.capabilities = capabilities
        }
    }

    public var rules: [Rule]

    public init(_ rules: [Rule] = []) { self.rules = rules }

    /// Every capability on every channel: development mode.
    public static let everything = Grants([Rule(ChannelPattern("*"), .all)])

    /// The same capabilities on each pattern: how `--client-publish` and `--public-subscribe` grant.
    public init(_ capabilities: Capabilities, on patterns: [ChannelPattern]) {
        rules = patterns.map { Rule($0, capabilities) }
    }

    /// True when the rules whose patterns match `channel` grant, between them, all of `needed`.
    public func allows(_ needed: Capabilities, on channel: String) -> Bool {
        var granted: Capabilities = []
        for rule in rules where rule.pattern.matches(channel) { granted.formUnion(rule.capabilities) }
        return granted.isSuperset(of: needed)
    }

    /// True when some matching rule grants at least one of `alternatives`.
    public func allowsAny(_ alternatives: Capabilities, on channel: String) -> Bool {
        rules.contains { $0.pattern.matches(channel) && !$0.capabilities.isDisjoint(with: alternatives) }
    }

    public static func + (a: Grants, b: Grants) -> Grants { Grants(a.rules + b.rules) }
}
