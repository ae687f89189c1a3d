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
            .object(["id": .string(id), "post": .string(post), "user": .string(user), "name": .string(name),
                     "text": .string(text), "at": .string(at.iso8601)])
        }
    }

    /// The demo keeps to channels under `demo/`, so an app developed against the same dev server
    /// never sees its posts.
    static let postsChannel = "demo/posts"
    static let commentsChannel = "demo/comments"
    static let users = ["alice", "bob", "carol", "dave"]
    static let maxComments = 1_000
    static let maxTextBytes = 2_000

    private(set) var comments: [String: [Comment]] = [:]
    private var commentCount = 0
    private var files: [String: (type: String, bytes: [UInt8])] = [:]

    init() {
        guard let directory = Bundle.module.url(forResource: "demo", withExtension: nil),
              let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return }
        for name in names {
            guard let type = Self.contentType(of: name),
                  let data = try? Data(contentsOf: directory.appendingPathComponent(name)) else { continue }
            files[name] = (type, Array(data))
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

    /// The posts: every record of `demo/posts` that is not deleted, with its title and body.
    static func posts(in book: RecordBook) -> [(id: String, state: RecordState)] {
        book.records.compactMap { key, state in
            key.channel == postsChannel && state.tombstone == nil ? (key.id, state) : nil
        }.sorted { (Int($0.id) ?? .max, $0.id) < (Int($1.id) ?? .max, $1.id) }
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

    static func nextPostID(in book: RecordBook) -> String {
        let highest = book.records.keys.filter { $0.channel == postsChannel }.compactMap { Int($0.id) }.max() ?? 0
        return String(highest + 1)
    }
}
