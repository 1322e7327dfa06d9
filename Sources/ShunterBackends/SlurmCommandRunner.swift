import Foundation
import Subprocess
import SystemPackage

/// Runs Slurm's command-line tools (`sbatch`, `squeue`, `sacct`, `scancel`) without blocking a
/// thread, each with a time limit: a controller that does not answer must never hang the broker.
struct SlurmCommandRunner: Sendable {
    var binDirectory: String?
    var timeout: Duration

    struct Result: Sendable {
        var command: String
        /// nil when the tool could not be started or was killed at the time limit.
        var status: Int32?
        var stdout: String
        var stderr: String
        var timedOut = false

        var succeeded: Bool { status == 0 }

        /// Slurm's own words for a failure, for messages: its stderr, else what happened.
        var message: String {
            let text = stderr.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }.joined(separator: "; ")
            if !text.isEmpty { return text }
            if timedOut { return "\(command) did not answer within the command timeout" }
            return "\(command) exited with status \(status.map(String.init) ?? "unknown")"
        }
    }

    func path(of tool: String) -> String {
        binDirectory.map { $0 + "/" + tool } ?? tool
    }

    /// What `sbatch` runs with: the job's batch shell inherits it (`--export=ALL`), so it holds
    /// nothing of the broker's own settings or secrets, and no `SBATCH_*` default sneaks in.
    /// `--export=NONE` would be as clean but makes slurmd load the user's login environment
    /// for every job (`--get-user-env`), which costs a login shell per job: 3-4 times slower
    /// for small jobs on the test cluster. The command itself runs under `env -i` anyway.
    static let submissionVariables = [
        "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR", "SLURM_CONF",
    ]

    static func submissionEnvironment(from broker: [String: String] = ProcessInfo.processInfo.environment) -> [String:
        String]
    {
        broker.filter { submissionVariables.contains($0.key) }
    }

    /// Runs `tool arguments` with the broker's environment (Slurm reads `SLURM_CONF` and the like
    /// from it), or exactly `environment` when given. Throws only `CancellationError`; every
    /// other failure is in the result.
    func run(_ tool: String, _ arguments: [String], environment: [String: String]? = nil, outputLimit: Int = 64 << 20)
        async throws -> Result
    {
        let executable: Executable = binDirectory == nil ? .name(tool) : .path(FilePath(path(of: tool)))
        let variables: Environment =
            environment.map {
                .custom(
                    Dictionary(
                        uniqueKeysWithValues: $0.compactMap { key, value in
                            Environment.Key(rawValue: key).map { ($0, value) }
                        }))
            }
            ?? .inherit
        let commandText = ([tool] + arguments.prefix(3)).joined(separator: " ") + (arguments.count > 3 ? " …" : "")
        let limit = timeout
        return try await withThrowingTaskGroup(of: Result?.self) { group in
            group.addTask {
                do {
                    // Cancelling this child kills the tool (swift-subprocess's teardown ends with SIGKILL).
                    let outcome = try await Subprocess.run(
                        executable, arguments: Arguments(arguments), environment: variables,
                        output: .string(limit: outputLimit), error: .string(limit: 1 << 20))
                    let status: Int32? =
                        switch outcome.terminationStatus {
                        case .exited(let code): code
                        case .signaled: nil
                        }
                    return Result(
                        command: commandText, status: status, stdout: outcome.standardOutput,
                        stderr: outcome.standardError)
                } catch is CancellationError {
                    throw CancellationError()
                } catch {
                    if Task.isCancelled { throw CancellationError() }
                    return Result(
                        command: commandText, status: nil, stdout: "", stderr: "cannot run \(path(of: tool)): \(error)")
                }
            }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            let first = try await group.next()!
            group.cancelAll()
            if let first { return first }
            _ = try? await group.next()
            try Task.checkCancellation()
            return Result(command: commandText, status: nil, stdout: "", stderr: "", timedOut: true)
        }
    }
}
