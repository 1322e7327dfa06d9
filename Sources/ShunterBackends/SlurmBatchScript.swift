import Foundation

/// The files of one Slurm job, in the job's directory (the parent of its `work/`), which must be
/// on a file system the compute nodes share:
///
/// ```
/// <job dir>/slurm-job.sh    the batch script (a human can `sbatch` it again)
/// <job dir>/slurm-job.out   Slurm's own output for the job (slurmstepd messages)
/// <job dir>/slurm-exit      the command's exit code, written by the script as its last act
/// ```
struct SlurmJobFiles: Sendable, Hashable {
    let jobDirectory: String
    let workDirectory: String

    init(execution: Execution) {
        workDirectory = execution.workDirectory
        let url = URL(fileURLWithPath: execution.workDirectory)
        jobDirectory = url.deletingLastPathComponent().path
    }

    var scriptPath: String { jobDirectory + "/slurm-job.sh" }
    var slurmOutputPath: String { jobDirectory + "/slurm-job.out" }
    var exitMarkerPath: String { jobDirectory + "/slurm-exit" }

    /// `shunter-<tf prefix>-<job id>`: the job directory's name, so a job submitted just before
    /// a crash can be found again from the journal alone.
    var jobName: String { "shunter-" + URL(fileURLWithPath: jobDirectory).lastPathComponent }

    /// The exit code the script recorded, nil when it did not (yet) write one.
    func recordedExitCode() -> Int32? { Self.exitCode(atMarker: exitMarkerPath) }

    static func exitCode(atMarker path: String) -> Int32? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// Writes the batch script that runs one `Execution` under Slurm.
///
/// The command runs through `env -i` with exactly `execution.environment`, so nothing else
/// reaches it; the batch shell around it gets the few variables `sbatch` itself is given
/// (`SlurmCommandRunner.submissionEnvironment`, `--export=ALL`), never the broker's. The
/// command is the execution's argv as the plugin built it: a container plugin that prepares
/// `apptainer exec …` runs on Slurm unchanged (the seam for Apptainer on Slurm).
enum SlurmBatchScript {
    struct Unusable: Error, CustomStringConvertible {
        var description: String
    }

    static func text(for execution: Execution, files: SlurmJobFiles, timeLimit: Duration?) throws(Unusable) -> String {
        for path in [files.jobDirectory, execution.stdoutPath, execution.stderrPath]
        where path.contains(where: { $0.isWhitespace || $0 == "\"" || $0 == "'" }) {
            throw Unusable(
                description:
                    "the Slurm backend cannot use the path '\(path)': #SBATCH lines cannot hold spaces or quotes; choose a workdir without them"
            )
        }
        guard !execution.command.isEmpty else { throw Unusable(description: "the command is empty") }
        var lines = ["#!/bin/bash"]
        for option in directives(for: execution, files: files, timeLimit: timeLimit) {
            lines.append("#SBATCH " + option)
        }
        lines.append(
            """
            # Written by Shunter for job \(execution.jobID) of handler \(execution.handler).
            # The command below runs with exactly this environment (env -i); its exit code is then
            # written to \(files.exitMarkerPath) for the broker, which also asks squeue/sacct.
            rm -f \(quote(files.exitMarkerPath))
            cd \(quote(execution.workDirectory)) || exit 97
            """)
        var invocation = ["/usr/bin/env", "-i"]
        for (name, value) in execution.environment.sorted(by: { $0.key < $1.key }) {
            guard !name.isEmpty, !name.contains("="), !name.contains("\0"), !value.contains("\0") else {
                throw Unusable(description: "illegal environment variable name or value: '\(name)'")
            }
            invocation.append(quote(name + "=" + value))
        }
        invocation += execution.command.map(quote)
        lines.append(
            invocation.joined(separator: " \\\n    ")
                + " \\\n    < /dev/null > \(quote(execution.stdoutPath)) 2> \(quote(execution.stderrPath))")
        lines.append(
            """
            status=$?
            printf '%s\\n' "$status" > \(quote(files.exitMarkerPath + ".tmp")) && mv -f \(quote(files.exitMarkerPath + ".tmp")) \(quote(files.exitMarkerPath))
            exit "$status"
            """)
        return lines.joined(separator: "\n") + "\n"
    }

    static func directives(for execution: Execution, files: SlurmJobFiles, timeLimit: Duration?) -> [String] {
        let resources = execution.resources
        var options = [
            "--job-name=\(files.jobName)",
            "--output=\(files.slurmOutputPath)",
            "--chdir=\(execution.workDirectory)",
            "--export=ALL",
            "--ntasks=1",
        ]
        if let cores = resources.cores { options.append("--cpus-per-task=\(cores)") }
        if let memory = resources.memoryBytes { options.append("--mem=\(ResourceRequest.megabytes(memory))M") }
        if let timeLimit { options.append("--time=\(slurmTime(timeLimit))") }
        if let gpus = resources.gpus, gpus > 0 { options.append("--gpus=\(gpus)") }
        if let partition = resources.partition { options.append("--partition=\(partition)") }
        if let account = resources.account { options.append("--account=\(account)") }
        if let qos = resources.qos { options.append("--qos=\(qos)") }
        options += resources.extraDirectives
        return options
    }

    /// Slurm keeps time limits in whole minutes: round up, never below one.
    static func slurmTime(_ duration: Duration) -> String {
        let seconds = max(duration.components.seconds + (duration.components.attoseconds > 0 ? 1 : 0), 1)
        let minutes = (seconds + 59) / 60
        return "\(minutes / 1440)-\(String(format: "%02d:%02d:00", (minutes % 1440) / 60, minutes % 60))"
    }

    /// Single-quoted for bash, as `shlex.quote` does.
    static func quote(_ text: String) -> String {
        let safe = text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "@%+=:,./-_".contains($0)) }
        if safe && !text.isEmpty { return text }
        return "'" + text.replacingOccurrences(of: "'", with: "'\"'\"'") + "'"
    }
}
