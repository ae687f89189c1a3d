import Testing
@testable import ConcordCore

@Suite("Conflict detection with version vectors")
struct RecordBookTests {
    let post = RecordKey(channel: "resources/posts", id: "1")
    let t0 = Timestamp(milliseconds: 1000)

    func accepted(_ outcome: CommitOutcome) -> CommitOutcome.Accepted? {
        if case .accepted(let a) = outcome { return a }
        return nil
    }

    func conflict(_ outcome: CommitOutcome) -> CommitOutcome.Conflict? {
        if case .conflict(let c) = outcome { return c }
        return nil
    }

    @Test func sequentialCommitsAreAccepted() throws {
        var book = RecordBook()
        let first = accepted(try book.commit(post, Commit(actor: "alice", context: VersionVector(), fields: ["title": .string("A")]), now: t0))
        #expect(first?.version == VersionVector(["alice": 1]))
        #expect(first?.dot == Dot(actor: "alice", counter: 1))
        let second = accepted(try book.commit(post, Commit(actor: "bob", context: first!.version, fields: ["title": .string("B")]), now: t0))
        #expect(second?.version == VersionVector(["alice": 1, "bob": 1]))
        #expect(book.state(of: post)?.fields["title"]?.value == .string("B"))
    }

    @Test func aStaleCommitOnTheSameFieldIsAConflictNamingWhoAndWhen() throws {
        var book = RecordBook()
        let base = accepted(try book.commit(post, Commit(actor: "alice", context: VersionVector(), fields: ["title": nil]), now: t0))!.version
        _ = try book.commit(post, Commit(actor: "bob", context: base, fields: ["title": .string("Bob's")]), now: Timestamp(milliseconds: 2000))
        let refused = conflict(try book.commit(post, Commit(actor: "alice", context: base, fields: ["title": .string("Alice's")]), now: t0))
        #expect(refused?.kind == .fields)
        #expect(
            refused?.fields == [
                FieldConflict(field: "title", write: FieldWrite(dot: Dot(actor: "bob", counter: 1), at: Timestamp(milliseconds: 2000), value: .string("Bob's")))
            ])
        #expect(refused?.version == VersionVector(["alice": 1, "bob": 1]))
        // Nothing changed on refusal.
        #expect(book.state(of: post)?.fields["title"]?.value == .string("Bob's"))
        // "Keep mine": a context that covers what the conflict showed is accepted.
        let kept = accepted(try book.commit(post, Commit(actor: "alice", context: refused!.version, fields: ["title": .string("Alice's")]), now: t0))
        #expect(kept?.version == VersionVector(["alice": 2, "bob": 1]))
    }

    @Test func concurrentEditsToDisjointFieldsMerge() throws {
        var book = RecordBook()
        let base = accepted(try book.commit(post, Commit(actor: "alice", context: VersionVector(), fields: ["title": nil, "body": nil]), now: t0))!.version
        _ = try book.commit(post, Commit(actor: "bob", context: base, fields: ["title": nil]), now: t0)
        let merged = accepted(try book.commit(post, Commit(actor: "carol", context: base, fields: ["body": nil]), now: t0))
        #expect(merged?.version == VersionVector(["alice": 1, "bob": 1, "carol": 1]))
        #expect(book.state(of: post)?.fields["title"]?.dot.actor == "bob")
        #expect(book.state(of: post)?.fields["body"]?.dot.actor == "carol")
    }

    @Test func aCommitWithoutFieldsIsCheckedAgainstTheWholeRecord() throws {
        var book = RecordBook()
        let base = accepted(try book.commit(post, Commit(actor: "alice", context: VersionVector(), fields: ["title": nil]), now: t0))!.version
        _ = try book.commit(post, Commit(actor: "bob", context: base, fields: ["body": nil]), now: t0)
        let whole = conflict(try book.commit(post, Commit(actor: "carol", context: base, fields: nil), now: t0))
        #expect(whole?.fields.map(\.field) == ["body"])
        // And a field commit after a whole-record write it has not seen conflicts on "*".
        let current = book.state(of: post)!.version
        _ = try book.commit(post, Commit(actor: "dave", context: current, fields: nil), now: t0)
        let field = conflict(try book.commit(post, Commit(actor: "erin", context: current, fields: ["tags": nil]), now: t0))
        #expect(field?.fields.map(\.field) == ["*"])
    }

    @Test func tombstonesMakeEveryLaterCommitAConflictOfKindDeleted() throws {
        var book = RecordBook()
        let base = accepted(try book.commit(post, Commit(actor: "alice", context: VersionVector(), fields: ["title": nil]), now: t0))!.version
        let stale = conflict(try book.delete(post, actor: "bob", context: VersionVector(), now: t0))
        #expect(stale?.kind == .fields)
        let deleted = accepted(try book.delete(post, actor: "bob", context: base, now: t0))
        #expect(deleted?.deleted == true)
        let after = conflict(try book.commit(post, Commit(actor: "alice", context: deleted!.version, fields: ["title": nil]), now: t0))
        #expect(after?.kind == .deleted)
        #expect(after?.deletedBy?.dot.actor == "bob")
    }

    @Test func contextsCannotClaimWritesTheRecordNeverHad() throws {
        var book = RecordBook()
        _ = try book.commit(post, Commit(actor: "alice", context: VersionVector(), fields: ["title": nil]), now: t0)
        #expect(throws: ProtocolError.self) {
            try book.commit(post, Commit(actor: "bob", context: VersionVector(["alice": 9]), fields: ["title": nil]), now: t0)
        }
        #expect(throws: ProtocolError.self) {
            try book.commit(post, Commit(actor: "~x", context: VersionVector(), fields: nil), now: t0)
        }
    }

    @Test func vectorsStayBoundedByFoldingTheOldestActors() throws {
        var book = RecordBook(maxActors: 3)
        var context = VersionVector()
        for actor in ["a", "b", "c"] {
            context = accepted(try book.commit(post, Commit(actor: actor, context: context, fields: [actor: nil]), now: t0))!.version
        }
        let beforeFold = context
        context = accepted(try book.commit(post, Commit(actor: "d", context: context, fields: ["d": nil]), now: t0))!.version
        // "a" folded into the floor actor: the vector keeps 3 actors plus "~".
        #expect(context == VersionVector(["b": 1, "c": 1, "d": 1, "~": 1]))
        #expect(book.state(of: post)?.fields["a"]?.dot == Dot(actor: "~", counter: 1))
        // A context taken after the fold covers the folded write; one from before sees it as
        // unseen: a possible false conflict, never a lost update.
        #expect(accepted(try book.commit(post, Commit(actor: "e", context: context, fields: ["a": nil]), now: t0)) != nil)
        #expect(conflict(try book.commit(post, Commit(actor: "f", context: beforeFold, fields: ["a": nil]), now: t0)) != nil)
        for i in 0..<50 {
            context = book.state(of: post)!.version
            _ = try book.commit(post, Commit(actor: "user\(i)", context: context, fields: ["x": nil]), now: t0)
        }
        #expect(book.state(of: post)!.version.counters.count <= 4)
    }

    @Test func editorsAreWarnedOnceWhenAnotherActorsCommitMakesThemStale() throws {
        var book = RecordBook()
        var editing = EditingSessions<Int>()
        let base = accepted(try book.commit(post, Commit(actor: "alice", context: VersionVector(), fields: ["title": nil, "body": nil]), now: t0))!.version
        editing.edit(1, user: "alice", key: post, context: base)
        editing.edit(2, user: "bob", key: post, context: base)
        let bobs = accepted(try book.commit(post, Commit(actor: "bob", context: base, fields: ["title": .string("New")]), now: t0))!
        let warned = editing.staleEditors(of: post, after: bobs, state: book.state(of: post)!)
        #expect(warned.map(\.0) == [1])
        #expect(warned.first?.1.map(\.field) == ["title"])
        #expect(warned.first?.1.first?.actor == "bob")
        // After "load latest" alice edits on the new context and is not warned about bob's commit.
        editing.edit(1, user: "alice", key: post, context: bobs.version)
        #expect(editing.staleEditors(of: post, after: bobs, state: book.state(of: post)!).isEmpty)
        editing.removeAll(1)
        #expect(editing.count == 1)
    }
}

@Suite("Editing contexts")
struct EditingContextTests {
    @Test func anEditContextMustBeAVersionTheRecordHad() throws {
        var book = RecordBook()
        let key = RecordKey(channel: "c", id: "1")
        _ = try book.commit(key, Commit(actor: "alice", context: VersionVector(), fields: ["t": nil]), now: Timestamp(milliseconds: 0))
        try book.checkContext(key, VersionVector())
        try book.checkContext(key, try VersionVector.from(.object(["alice": .int(1)])))
        do {
            try book.checkContext(key, try VersionVector.from(.object(["zed": .int(5)])))
            Issue.record("a write the record never had was accepted")
        } catch {
            #expect(error.code == .invalidFrame)
            #expect(error.message == "context names write zed:5, which this record does not have")
        }
        #expect(throws: ProtocolError.self) { try book.checkContext(RecordKey(channel: "c", id: "new"), try VersionVector.from(.object(["alice": .int(1)]))) }
    }
}
