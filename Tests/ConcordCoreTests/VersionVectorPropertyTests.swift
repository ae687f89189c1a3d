import PropertyBased
import Testing
@testable import ConcordCore

/// The vector algebra, checked on generated vectors over a few actors.
@Suite("Version vector properties")
struct VersionVectorPropertyTests {
    static let actors = ["alice", "bob", "carol", "dave"]

    static var vectors: Generator<VersionVector, some Sequence> {
        Gen.int(in: 0...4).array(of: 4...4).map { counts in
            VersionVector(Dictionary(uniqueKeysWithValues: zip(actors, counts.map { UInt64($0) })))
        }
    }

    @Test func mergeIsCommutative() async {
        await propertyCheck(count: 300, input: Self.vectors, Self.vectors) { a, b in
            #expect(a.merged(with: b) == b.merged(with: a))
        }
    }

    @Test func mergeIsAssociative() async {
        await propertyCheck(count: 300, input: Self.vectors, Self.vectors, Self.vectors) { a, b, c in
            #expect(a.merged(with: b).merged(with: c) == a.merged(with: b.merged(with: c)))
        }
    }

    @Test func mergeIsIdempotentAndAnUpperBound() async {
        await propertyCheck(count: 300, input: Self.vectors, Self.vectors) { a, b in
            #expect(a.merged(with: a) == a)
            let m = a.merged(with: b)
            #expect(m.descends(a) && m.descends(b))
        }
    }

    @Test func descendsIsAPartialOrder() async {
        await propertyCheck(count: 300, input: Self.vectors, Self.vectors, Self.vectors) { a, b, c in
            #expect(a.descends(a))
            if a.descends(b) && b.descends(a) { #expect(a == b) }
            if a.descends(b) && b.descends(c) { #expect(a.descends(c)) }
            #expect(a.isConcurrent(with: b) == (!a.descends(b) && !b.descends(a)))
        }
    }

    @Test func aContextTakenAfterACommitDescendsIt() async {
        await propertyCheck(count: 300, input: Self.vectors, Gen.int(in: 0...3)) { start, who in
            var book = RecordBook()
            let key = RecordKey(channel: "resources/posts", id: "1")
            // Reach `start` through accepted commits, then commit once more as `who`.
            for (actor, count) in start.counters.sorted(by: { $0.key < $1.key }) {
                for _ in 0..<count {
                    let context = book.state(of: key)?.version ?? VersionVector()
                    _ = try book.commit(key, Commit(actor: actor, context: context, fields: ["f": nil]), now: .init(milliseconds: 0))
                }
            }
            let before = book.state(of: key)?.version ?? VersionVector()
            let outcome = try book.commit(key, Commit(actor: Self.actors[who], context: before, fields: ["title": nil]), now: .init(milliseconds: 1))
            guard case .accepted(let accepted) = outcome else { Issue.record("commit on a fresh context refused"); return }
            let after = book.state(of: key)!.version
            #expect(after == accepted.version)
            #expect(after.descends(before) && !before.descends(after))
            #expect(after.covers(accepted.dot))
        }
    }
}
