import Foundation
import ShunterBackends

/// Runs the commands of one environment build, each with its output appended to the build's
/// log, under the build's time limit, and stopped with its whole process tree when the build
/// is abandoned (the local backend's process handling).
package struct ManagerCommand: Sendable {
    /// The build's scratch directory: commands run there; their spec files go there.
    package var workspace: String
    /// The log kept after a failed build (and until the next build of the same spec).
    package var logPath: String
    /// The variables every command gets: the broker's own, so that proxies, `HOME` and the
    /// tools' settings (`CONDA_PKGS_DIRS`, `MAMBA_ROOT_PREFIX`, `PIP_INDEX_URL`) apply.
    package var environment: [String: String]
    package var timeout: Duration

    package init(workspace: String, logPath: String, environment: [String: String], timeout: Duration) {
        self.workspace = workspace
        self.logPath = logPath
        self.environment = environment
        self.timeout = timeout
    }

    package struct Result: Sendable {
        package var exitCode: Int32?
        package var stdout: String
        package var stderr: String
        package var succeeded: Bool { exitCode == 0 }

        /// The part of the output a user needs: standard error, else the end of standard output.
        package var message: String {
            let text = stderr.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? stdout : stderr
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            return lines.suffix(40).joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// Runs `command`; never throws for a non-zero exit (the caller decides what it means).
    @discardableResult
    package func run(_ command: [String], extraEnvironment: [String: String] = [:]) async throws -> Result {
        let step = UUID().uuidString.prefix(8)
        let stdoutPath = "\(workspace)/\(step).out"
        let stderrPath = "\(workspace)/\(step).err"
        append("$ " + command.joined(separator: " ") + "\n")
        let execution = Execution(
            jobID: "environment-build", handler: "environments", workDirectory: workspace, command: command,
            environment: environment.merging(extraEnvironment) { $1 }, timeout: timeout,
            stdoutPath: stdoutPath, stderrPath: stderrPath)
        let outcome = try await LocalBackend(killGrace: .seconds(5)).run(execution, events: ExecutionEvents())
        let stdout = (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
        append(stdout + stderr)
        let exitCode: Int32?
        switch outcome.termination {
        case .exited(let code):
            exitCode = code
            append("[exit code \(code)]\n")
        case .signaled(let signal):
            exitCode = nil
            append("[killed by signal \(signal)]\n")
        case .timedOut(let limit):
            append("[stopped: the build ran longer than \(limit) (environments.build_timeout)]\n")
            throw EnvironmentBuildFailure(
                "the build ran longer than \(limit) (environments.build_timeout) and was stopped")
        }
        return Result(exitCode: exitCode, stdout: stdout, stderr: stderr)
    }

    /// Adds a line to the log (the store writes what it decided; managers what they do).
    package func note(_ text: String) { append(text.hasSuffix("\n") ? text : text + "\n") }

    private func append(_ text: String) {
        guard !text.isEmpty else { return }
        if let handle = FileHandle(forWritingAtPath: logPath) {
            handle.seekToEndOfFile()
            handle.write(Data(text.utf8))
            try? handle.close()
        } else {
            // A log that cannot be written loses this note only; the build is unaffected.
            _ = FileManager.default.createFile(atPath: logPath, contents: Data(text.utf8))
        }
    }
}
