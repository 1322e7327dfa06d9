import Foundation

/// What Slurm says about one job at one moment, from `squeue` or `sacct`.
struct SlurmJobStatus: Sendable, Hashable {
    var jobID: String
    /// Slurm's state word (`PENDING`, `RUNNING`, `COMPLETED`, `OUT_OF_MEMORY`, ...).
    var state: String
    /// The job's exit: the batch script's exit code and the signal that killed it, if any.
    var exitCode: Int32?
    var signal: Int32?
    /// `squeue`'s reason (`NonZeroExitCode`, `BadConstraints`, `Resources`, ...).
    var reason: String
    var name: String
    var workDirectory: String

    /// The `squeue --Format` that `init(squeueLine:)` reads: every field ends with `|`, the work
    /// directory last so that nothing after it can be confused by its characters.
    static let squeueFormat = "JobID:|,State:|,exit_code:|,Reason:|,Name:|,WorkDir:|"
    static let sacctFields = "JobID,State,ExitCode,JobName,WorkDir"

    /// `12|FAILED|768|NonZeroExitCode|shunter-ab12-3|/work/ab12-3/work|`; `exit_code` is the
    /// raw wait status (768 = exit 3).
    init?(squeueLine line: Substring) {
        var fields = line.split(separator: "|", maxSplits: 5, omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 6, !fields[0].isEmpty else { return nil }
        if fields[5].hasSuffix("|") { fields[5].removeLast() }
        jobID = fields[0]
        state = Self.stateWord(fields[1])
        if let raw = Int32(fields[2]) {
            exitCode = (raw >> 8) & 0xff
            signal = raw & 0x7f == 0 ? nil : raw & 0x7f
        }
        reason = fields[3]
        name = fields[4]
        workDirectory = fields[5]
    }

    /// `12|CANCELLED by 0|0:15|shunter-ab12-3|/work/ab12-3/work` (`sacct -X -n -P`).
    init?(sacctLine line: Substring) {
        let fields = line.split(separator: "|", maxSplits: 4, omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 5, !fields[0].isEmpty else { return nil }
        jobID = fields[0]
        state = Self.stateWord(fields[1])
        let parts = fields[2].split(separator: ":")
        if parts.count == 2, let code = Int32(parts[0]), let signal = Int32(parts[1]) {
            exitCode = code
            self.signal = signal == 0 ? nil : signal
        }
        reason = ""
        name = fields[3]
        workDirectory = fields[4]
    }

    init(
        jobID: String, state: String, exitCode: Int32? = nil, signal: Int32? = nil, reason: String = "",
        name: String = "", workDirectory: String = ""
    ) {
        self.jobID = jobID
        self.state = state
        self.exitCode = exitCode
        self.signal = signal
        self.reason = reason
        self.name = name
        self.workDirectory = workDirectory
    }

    /// `CANCELLED by 0` → `CANCELLED`; `COMPLETING+` style suffixes dropped.
    static func stateWord(_ text: String) -> String {
        String(text.trimmingCharacters(in: .whitespaces).prefix { $0.isLetter || $0 == "_" }).uppercased()
    }

    /// Shunter's own word for a job Slurm no longer knows and that left no exit marker.
    static let lost = "LOST"

    /// States after which the job never runs again.
    static let terminalStates: Set<String> = [
        "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL",
        "DEADLINE", "REVOKED", lost,
    ]

    var isTerminal: Bool { Self.terminalStates.contains(state) }
    /// The job has started (its time limit runs); `COMPLETING` is the end of a run.
    var hasStarted: Bool {
        isTerminal || ["RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT"].contains(state)
    }
}

/// How a Slurm job ended, in the terms the broker understands: an outcome the plugin reads
/// (exit code, signal, timeout) or a failure that only Slurm's words can explain.
enum SlurmJobEnd: Sendable, Hashable {
    case outcome(ExecutionOutcome.Termination)
    case failure(String)
    /// Cancelled through Slurm (by Shunter or by someone else).
    case cancelled

    /// `limit` is the job's time limit, for the timeout outcome; `memory` its request, for words.
    static func of(_ status: SlurmJobStatus, limit: Duration?, memory: Int64?) -> SlurmJobEnd {
        let job = "Slurm job \(status.jobID)"
        switch status.state {
        case "COMPLETED", "FAILED":
            if let signal = status.signal { return .outcome(.signaled(signal)) }
            if let code = status.exitCode, code != 0 || status.state == "COMPLETED" {
                return .outcome(.exited(code))
            }
            // FAILED with exit 0: Slurm could not run the batch script at all.
            let why = status.reason.isEmpty || status.reason == "None" ? "" : " (\(status.reason))"
            return .failure("\(job) failed before the command ran\(why): see slurm-job.out in the job directory")
        case "TIMEOUT":
            return .outcome(.timedOut(limit ?? .zero))
        case "CANCELLED":
            return .cancelled
        case "OUT_OF_MEMORY":
            let asked = memory.map { " it asked for \(ResourceRequest.megabytes($0))M;" } ?? ""
            return .failure(
                "\(job) was killed for using more memory than it asked for (OUT_OF_MEMORY):\(asked) "
                    + "raise __meta__ memory or the handler's slurm.memory")
        case "NODE_FAIL":
            return .failure("\(job) ended because the node running it failed (NODE_FAIL); it may succeed if run again")
        case "PREEMPTED":
            return .failure(
                "\(job) was preempted by a higher-priority job (PREEMPTED) and not requeued; it may succeed if run again"
            )
        case "BOOT_FAIL":
            return .failure("\(job) could not start: its node failed to boot (BOOT_FAIL)")
        case "DEADLINE":
            return .failure("\(job) was removed because it could not finish before its deadline (DEADLINE)")
        default:
            return .failure(
                "\(job) ended in state \(status.state)\(status.reason.isEmpty ? "" : " (\(status.reason))")")
        }
    }
}

extension ResourceRequest {
    /// Slurm's `--mem` unit, rounded up.
    static func megabytes(_ bytes: Int64) -> Int64 { (bytes + (1 << 20) - 1) >> 20 }
}
