import Foundation

/// Builds conda prefixes with an installed `micromamba`, `mamba` or `conda` (what cluster
/// machines have), from the spec written out as environment.yml.
package struct CondaCommandManager: EnvironmentManager {
    package enum Tool: String, Sendable, CaseIterable {
        case micromamba, mamba, conda
    }

    package let tool: Tool
    /// The tool's path, or nil when it is not installed here.
    package let executable: String?

    package var name: String { tool.rawValue }
    package var kind: EnvironmentKind { .conda }

    /// `executable`: a configured path, else the tool is looked up in `searchPath` (`PATH`).
    package init(tool: Tool, executable: String? = nil, searchPath: String?) {
        self.tool = tool
        self.executable = executable ?? ExecutableSearch.find(tool.rawValue, in: searchPath)
    }

    package func unsuitability(for spec: EnvironmentSpec) async -> String? {
        guard let executable else {
            return "\(tool.rawValue) is not on PATH (or set environments.executables.\(tool.rawValue))"
        }
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            return "\(executable) is not an executable file"
        }
        return nil
    }

    /// The command line for each tool. All three read the pip section of environment.yml and
    /// install it with the environment's own pip. `env create` never prompts, so conda and
    /// mamba need no `--yes` (which older versions of `env create` refuse).
    package func command(spec file: String, prefix: String) -> [String] {
        let executable = executable ?? tool.rawValue
        switch tool {
        case .micromamba: return [executable, "create", "--yes", "--prefix", prefix, "--file", file]
        case .mamba, .conda: return [executable, "env", "create", "--prefix", prefix, "--file", file]
        }
    }

    package func create(_ spec: EnvironmentSpec, prefix: String, step: ManagerCommand) async throws {
        let file = step.workspace + "/environment.yml"
        try Data(spec.environmentYAML.utf8).write(to: URL(fileURLWithPath: file))
        let result = try await step.run(command(spec: file, prefix: prefix))
        guard result.succeeded else {
            throw EnvironmentBuildFailure("\(tool.rawValue) could not create the environment:\n\(result.message)")
        }
    }
}

/// Finds a program the way a shell does.
package enum ExecutableSearch {
    package static func find(_ name: String, in searchPath: String?) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        for directory in (searchPath ?? "").split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
