import Foundation
import PackagePlugin

/// Builds the files under a target's `Resources/` into the binary (no resource bundle beside it),
/// with the version (`VERSION` at the package root) and the commit it was built from.
@main
struct EmbedResources: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let resources = target.directoryURL.appending(path: "Resources")
        let root = context.package.directoryURL
        var inputs: [URL] = []
        if let walker = FileManager.default.enumerator(at: resources, includingPropertiesForKeys: [.isRegularFileKey]) {
            for case let url as URL in walker where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
                inputs.append(url)
            }
        }
        inputs.sort { $0.path < $1.path }
        // The commit changes what HEAD (or the branch it names) holds: both are inputs.
        var gitInputs = [root.appending(path: ".git/HEAD")]
        if let head = try? String(contentsOf: gitInputs[0], encoding: .utf8), head.hasPrefix("ref: ") {
            gitInputs.append(root.appending(path: ".git/" + head.dropFirst(5).trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        let existing = gitInputs.filter { FileManager.default.fileExists(atPath: $0.path) }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedResources.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(inputs.count) resources of \(target.name)",
                executable: try context.tool(named: "embed-resources").url,
                arguments: [output.path, resources.path, root.path],
                inputFiles: inputs + [root.appending(path: "VERSION")] + existing,
                outputFiles: [output])
        ]
    }
}
