import Testing
@testable import ConcordCore

@Suite("Capabilities and personal channels")
struct PrincipalTests {
    func principal(_ user: String?, _ rules: [(String, Capabilities)]) -> Principal {
        Principal(user: user, grants: Grants(rules.map { Grants.Rule(ChannelPattern($0.0), $0.1) }))
    }

    func allowed(_ p: Principal, _ c: Capabilities, _ channel: String, server: Grants = Grants()) -> Bool {
        (try? p.authorize(c, on: channel, serverGrants: server)) != nil
    }

    @Test func patternsAreExactPrefixOrEverything() {
        let p = principal("alice", [("resources/posts", .subscribe), ("chat/*", .publish), ("*", .typing)])
        #expect(allowed(p, .subscribe, "resources/posts"))
        #expect(!allowed(p, .subscribe, "resources/posts2"))
        #expect(allowed(p, .publish, "chat/room-1"))
        #expect(!allowed(p, .publish, "chat"))
        #expect(allowed(p, .typing, "anything/at/all"))
        #expect(!allowed(p, .commit, "resources/posts"))
    }

    @Test func eachCapabilityIsSeparate() {
        let all: [Capabilities] = [.subscribe, .publish, .presence, .typing, .commit]
        for granted in all {
            let p = principal("alice", [("c/*", granted)])
            for asked in all {
                #expect(allowed(p, asked, "c/1") == (asked == granted), "granted \(granted), asked \(asked)")
            }
        }
    }

    @Test func alternativesNeedOnlyOne() {
        let p = principal("alice", [("resources/*", .commit)])
        #expect(allowed(p, [.subscribe, .commit], "resources/posts"))
    }

    @Test func serverGrantsApplyToEveryone() {
        let server = Grants(.subscribe, on: [ChannelPattern("public/*")])
        #expect(allowed(.anonymous, .subscribe, "public/news", server: server))
        #expect(!allowed(.anonymous, .subscribe, "private/news", server: server))
        #expect(!allowed(.anonymous, .publish, "public/news", server: server))
    }

    @Test func personalChannelsBelongToTheirUserAlone() {
        let everything = Principal(user: "alice", grants: .everything)
        #expect(allowed(everything, .subscribe, "notifications/user/alice"))
        #expect(!allowed(everything, .subscribe, "notifications/user/bob"), "even a * grant")
        #expect(!allowed(everything, .presence, "notifications/user/bob"))
        let none = principal("alice", [])
        #expect(allowed(none, .subscribe, "notifications/user/alice"), "always one's own")
        #expect(!allowed(none, .publish, "notifications/user/alice"), "publishing there still needs a grant")
        #expect(!allowed(.anonymous, .subscribe, "notifications/user/alice", server: Grants(.subscribe, on: [ChannelPattern("*")])))
        #expect(!allowed(none, .subscribe, "notifications/user/alice2"))
    }

    @Test func refusalsSayWhoMayNotDoWhatWhere() {
        let p = principal("alice", [])
        do {
            try p.authorize(.subscribe, on: "chat/x", serverGrants: Grants())
            Issue.record("allowed")
        } catch {
            #expect(error.code == .forbidden)
            #expect(error.message == "user alice may not subscribe on chat/x")
        }
    }

    @Test func capabilityNames() {
        #expect(Capabilities(name: "commit") == .commit)
        #expect(Capabilities(name: "*") == .all)
        #expect(Capabilities(name: "read") == nil)
        #expect(Capabilities.all.description == "subscribe, publish, presence, typing, commit")
    }
}
