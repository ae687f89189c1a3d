import ConcordCore
import Foundation

/// The demo's own data beside Concord's records: comments on posts, the next ids, and the page's
/// files. Post contents are not here: they are the values of the posts' record writes.
final class DemoBoard {
    struct Comment {
        var id: String
        var post: String
        var user: String
        var name: String
        var text: String
        var at: Timestamp

        var json: JSONValue {
            .object([
                "id": .string(id), "post": .string(post), "user": .string(user), "name": .string(name),
                "text": .string(text), "at": .string(at.iso8601),
            ])
        }
    }

    /// The demo keeps to channels under `demo/`, so an app developed against the same dev server
    /// never sees its posts.
    static let postsChannel = "demo/posts"
    static let commentsChannel = "demo/comments"
    static let users = ["alice", "bob", "carol", "dave"]
    static let maxComments = 1_000
    static let maxTextBytes = 2_000
    /// Posts the demo lists; older ones stay in the store but drop out of the list.
    static let maxPosts = 1_000

    private(set) var comments: [String: [Comment]] = [:]
    private var commentCount = 0
    private var files: [String: (type: String, bytes: [UInt8])] = [:]
    /// The ids of `demo/posts` records, read from the store at start and kept up to date by
    /// commits, so that listing posts never scans the store.
    private var postIDs: Set<String>
    private var highestPostID: Int

    init(postIDs: [String]) {
        self.postIDs = Set(postIDs)
        highestPostID = postIDs.compactMap { Int($0) }.max() ?? 0
        for (path, bytes) in EmbeddedResources.files where path.hasPrefix("demo/") {
            let name = String(path.dropFirst("demo/".count))
            guard let type = Self.contentType(of: name) else { continue }
            files[name] = (type, bytes)
        }
    }

    /// A file of the page by name (`index.html`, `app.js`, ...), never a path.
    func file(_ name: String) -> (type: String, bytes: [UInt8])? {
        guard !name.contains("/"), !name.contains("..") else { return nil }
        return files[name]
    }

    static func contentType(of name: String) -> String? {
        switch name.split(separator: ".").last {
        case "html": return "text/html; charset=utf-8"
        case "js": return "text/javascript; charset=utf-8"
        case "css": return "text/css; charset=utf-8"
        case "svg": return "image/svg+xml"
        case "png": return "image/png"
        default: return nil
        }
    }

    /// Adds a comment; the oldest go once the board holds `maxComments`.
    func addComment(post: String, user: String, name: String, text: String, at: Timestamp) -> Comment {
        commentCount += 1
        let comment = Comment(id: "c\(commentCount)", post: post, user: user, name: name, text: text, at: at)
        comments[post, default: []].append(comment)
        if comments[post]!.count > Self.maxComments { comments[post]!.removeFirst() }
        return comment
    }

    /// The keys of the posts to list, oldest first (deleted ones are dropped once their state is read).
    var postKeys: [RecordKey] {
        postIDs.sorted { (Int($0) ?? .max, $0) < (Int($1) ?? .max, $1) }.suffix(Self.maxPosts)
            .map { RecordKey(channel: Self.postsChannel, id: $0) }
    }

    var hasPosts: Bool { !postIDs.isEmpty }

    /// Follows an accepted commit, whoever made it: a post created over the record API is listed too.
    func noteCommit(_ key: RecordKey, _ state: RecordState) {
        guard key.channel == Self.postsChannel else { return }
        if state.tombstone == nil { postIDs.insert(key.id) } else { postIDs.remove(key.id) }
        if let number = Int(key.id) { highestPostID = max(highestPostID, number) }
    }

    /// A post id no record has had yet.
    func nextPostID() -> String {
        highestPostID += 1
        return String(highestPostID)
    }

    static func postJSON(id: String, state: RecordState) -> JSONValue {
        let title = state.fields["title"]
        let last = state.fields.values.max { $0.at < $1.at }
        return .object([
            "id": .string(id),
            "title": title?.value ?? .string(""),
            "body": state.fields["body"]?.value ?? .string(""),
            "author": .string(last?.dot.actor ?? ""),
            "version": .object(state.version.counters.mapValues { .int(Int64($0)) }),
        ])
    }
}
