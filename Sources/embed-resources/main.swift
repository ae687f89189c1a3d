import Foundation

// Writes a Swift file that holds every file under a resources directory (base64, decoded once at
// start), the version from VERSION, and the commit: `embed-resources OUTPUT RESOURCES ROOT`.
let arguments = CommandLine.arguments
guard arguments.count == 4 else {
    FileHandle.standardError.write(Data("usage: embed-resources OUTPUT RESOURCES_DIRECTORY PACKAGE_ROOT\n".utf8))
    exit(2)
}
let (output, resources, root) = (URL(fileURLWithPath: arguments[1]), URL(fileURLWithPath: arguments[2]), URL(fileURLWithPath: arguments[3]))

var files: [(String, Data)] = []
if let walker = FileManager.default.enumerator(at: resources, includingPropertiesForKeys: [.isRegularFileKey]) {
    for case let url as URL in walker where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
        let relative = String(url.standardizedFileURL.path.dropFirst(resources.standardizedFileURL.path.count + 1))
        guard !relative.split(separator: "/").contains(where: { $0.hasPrefix(".") }) else { continue }
        files.append((relative, try Data(contentsOf: url)))
    }
}
files.sort { $0.0 < $1.0 }

let version =
    (try? String(contentsOf: root.appendingPathComponent("VERSION"), encoding: .utf8))?
    .trimmingCharacters(in: .whitespacesAndNewlines) ?? "0.0.0"

/// The commit checked out at `root`, read from .git without running git (nil outside a clone).
func commit() -> String? {
    let git = root.appendingPathComponent(".git")
    guard let head = try? String(contentsOf: git.appendingPathComponent("HEAD"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    else { return nil }
    guard head.hasPrefix("ref: ") else { return head }
    let ref = String(head.dropFirst(5))
    if let hash = try? String(contentsOf: git.appendingPathComponent(ref), encoding: .utf8) {
        return hash.trimmingCharacters(in: .whitespacesAndNewlines)
    }
    // A packed ref: "HASH refs/heads/main" lines.
    let packed = (try? String(contentsOf: git.appendingPathComponent("packed-refs"), encoding: .utf8)) ?? ""
    return packed.split(separator: "\n").first { $0.hasSuffix(" " + ref) }.map { String($0.prefix { $0 != " " }) }
}

func literal(_ text: String) -> String {
    "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
}

var swift = """
    // Generated at build time from Resources/, VERSION and the checked-out commit; not edited by hand.
    import Foundation

    /// The files of `Resources/`, built into the binary, and what this build is.
    enum EmbeddedResources {
        static let version = \(literal(version))
        static let commit = \(literal(commit().map { String($0.prefix(12)) } ?? "unknown"))

        /// Every file by its path under `Resources/` (`client/wire.js`), decoded once.
        static let files: [String: [UInt8]] = {
            var files: [String: [UInt8]] = [:]
            for (path, base64) in encoded { files[path] = Array(Data(base64Encoded: base64)!) }
            return files
        }()

        private static let encoded: [(String, String)] = [

    """
for (path, data) in files {
    swift += "        (\(literal(path)), \(literal(data.base64EncodedString()))),\n"
}
swift += """
        ]
    }

    """
let bytes = Data(swift.utf8)
// Written only when it changed, so that a build with nothing new compiles nothing again.
if (try? Data(contentsOf: output)) != bytes {
    try bytes.write(to: output)
}
