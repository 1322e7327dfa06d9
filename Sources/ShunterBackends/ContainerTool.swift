import Foundation
import Subprocess
import SystemPackage

/// A container engine's command-line tool (`docker`, `apptainer`), for the short commands
/// around a job (inspect, load, build, kill, rm) whose output is small enough to collect.
/// The job itself runs through `LocalBackend`, whose process handling it needs.
struct ContainerTool: Sendable {
    /// Absolute path of the executable.
    let path: String
    /// The tool's whole environment.
    let environment: [String: String]

    struct Result: Sendable {
        var exitCode: Int32?
        var stdout: String
        var stderr: String
        var succeeded: Bool { exitCode == 0 }
        /// The tool's complaint, for error messages.
        var message: String {
            let text = (stderr.isEmpty ? stdout : stderr).trimmingCharacters(in: .whitespacesAndNewlines)
            return text.isEmpty ? "exit status \(exitCode.map(String.init) ?? "killed by a signal")" : text
        }
    }

    /// Runs `path arguments`; throws only when the tool cannot be started.
    func run(_ arguments: [String]) async throws -> Result {
        var variables: [Subprocess.Environment.Key: String] = [:]
        for (name, value) in environment { variables[Subprocess.Environment.Key(rawValue: name)!] = value }
        let outcome = try await Subprocess.run(
            .path(FilePath(path)), arguments: Arguments(arguments), environment: .custom(variables),
            output: .string(limit: 1 << 20), error: .string(limit: 1 << 20))
        var exitCode: Int32?
        if case .exited(let code) = outcome.terminationStatus { exitCode = code }
        return Result(exitCode: exitCode, stdout: outcome.standardOutput, stderr: outcome.standardError)
    }

    /// Runs a cleanup command in a task of its own, so that it runs even when the caller was
    /// cancelled (that is usually why it cleans up); errors count as failures.
    func runUncancelled(_ arguments: [String]) async -> Result {
        await Task {
            do { return try await run(arguments) } catch {
                return Result(exitCode: nil, stdout: "", stderr: "\(error)")
            }
        }.value
    }

    /// Finds `name` (or a path) on `searchPath`, as a shell would; nil when it is not there.
    static func locate(_ name: String, searchPath: String?) -> String? {
        let manager = FileManager.default
        if name.contains("/") { return manager.isExecutableFile(atPath: name) ? name : nil }
        let directories = (searchPath ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin").split(
            separator: ":")
        for directory in directories {
            let candidate = "\(directory)/\(name)"
            var isDirectory: ObjCBool = false
            if manager.fileExists(atPath: candidate, isDirectory: &isDirectory), !isDirectory.boolValue,
                manager.isExecutableFile(atPath: candidate)
            {
                return candidate
            }
        }
        return nil
    }
}
