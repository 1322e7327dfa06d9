import Foundation
import Logging
import ShunterBackends
import ShunterCore
import ShunterPlugins
import ShunterStore

/// How a job's execution ended, as the broker needs to know it.
enum JobEnding: Sendable {
    /// `workDirectory` is removed once the waiters have their answer.
    case succeeded(Checksum, OutputTails, workDirectory: String)
    case failed(String, OutputTails)
    case cancelled(reason: String)
    /// Stopped because the broker is shutting down; the job stays unfinished in the journal.
    case interrupted
}

struct OutputTails: Sendable {
    var stdout: String?
    var stderr: String?

    static let none = OutputTails(stdout: nil, stderr: nil)
}

/// One run of one job through its handler: prepare (plugin), run (backend), collect (plugin),
/// store. Runs outside the broker actor, and reports its progress to a sink that never calls
/// back (`JobProgressSink`).
struct JobExecution: Sendable {
    let id: JobID
    let handler: HandlerRuntime
    let context: JobContext
    let buffers: any BufferStore
    let results: any ResultStore
    let settings: BrokerSettings
    /// Where the job's progress goes (the broker).
    let progress: any JobProgressSink
    /// Set when the broker stops: a cancelled job is then interrupted, not cancelled.
    let stopping: StopSignal
    /// The work directory of an interrupted earlier attempt, removed before this one starts.
    let previousWorkDirectory: String?
    /// Set when recovery re-attaches to an execution that outlived the broker (a Slurm job):
    /// the job is not prepared nor started again, the backend follows it (`Backend.resume`).
    var resumePoint: ResumePoint? = nil

    struct ResumePoint: Sendable {
        /// Empty when the broker stopped before journaling it; the backend then looks by name.
        var externalID: String
        var workDirectory: String
    }

    func run() async -> JobEnding {
        var prepared: PreparedJob?
        var tails = OutputTails.none
        let started = Date()
        do {
            let events = ExecutionEvents(
                started: { [progress, id] externalID in try await progress.report(.externalID(externalID), of: id) },
                brokerIsStopping: { [stopping] in stopping.isSet })
            let ready: PreparedJob
            let outcome: ExecutionOutcome
            if let resumePoint, let reattached = await reattach(resumePoint) {
                ready = reattached
                prepared = ready
                outcome = try await handler.backend.resume(
                    ready.execution, externalID: resumePoint.externalID, events: events)
            } else {
                if resumePoint != nil { try await progress.report(.reattachAbandoned, of: id) }
                // A crash while preparing leaves a directory the journal never heard of, under
                // the very name this attempt uses: it goes too.
                let unjournaled =
                    context.workRoot + "/"
                    + WorkDirectory.name(transformation: context.transformation.checksum, jobID: context.jobID)
                // Looked up once: on the usual first attempt, one stat of a path that is not there.
                let leftovers = Set([previousWorkDirectory, unjournaled].compactMap { $0 })
                    .filter { FileManager.default.fileExists(atPath: $0) }
                if previousWorkDirectory == nil && leftovers.contains(unjournaled) {
                    // An attempt the journal never heard of (`running` is journaled without
                    // waiting) still happened: it counts.
                    try await progress.report(.unjournaledAttemptFound, of: id)
                }
                if case let (directory, code)? = finishedAttempt(among: leftovers) {
                    // The interrupted attempt ran to its end while the broker was down (or
                    // the broker died before journaling its end): collected, not run again.
                    let killed = LeftoverProcesses.kill(workingUnder: directory)
                    context.logger.notice(
                        "collecting an attempt that finished while the broker was down",
                        metadata: ["exit": "\(code)", "stopped_pids": "\(killed)"])
                    for other in leftovers where other != directory {
                        LeftoverProcesses.kill(workingUnder: other)
                        Self.removeWorkDirectory(other, logger: context.logger)
                    }
                    let finished = WorkDirectory(path: directory)
                    ready = PreparedJob(
                        execution: Execution(
                            jobID: context.jobID, handler: handler.name, workDirectory: finished.workPath, command: [],
                            environment: [:], stdoutPath: finished.stdoutPath, stderrPath: finished.stderrPath),
                        workDirectory: directory)
                    prepared = ready
                    try await progress.report(.collectingFinishedAttempt(workDirectory: directory), of: id)
                    outcome = ExecutionOutcome(termination: .exited(code), wallTime: .zero)
                } else {
                    for leftover in leftovers {
                        // Processes of the interrupted attempt still working there (the broker may
                        // have died before their identity reached the journal) must not run on
                        // beside this one.
                        let killed = LeftoverProcesses.kill(workingUnder: leftover)
                        if !killed.isEmpty {
                            context.logger.notice(
                                "stopped processes an interrupted attempt left running", metadata: ["pids": "\(killed)"]
                            )
                        }
                        Self.removeWorkDirectory(leftover, logger: context.logger)
                    }
                    try await progress.report(.preparing, of: id)
                    let fresh = try await handler.plugin.prepare(context)
                    ready = fresh
                    prepared = ready
                    // How `running` is journaled (with the execution's id, or before it is
                    // submitted) is the durability policy's to say, by the backend's recovery model.
                    try await progress.report(.running(workDirectory: fresh.workDirectory), of: id)
                    outcome = try await handler.backend.run(ready.execution, events: events)
                }
            }
            tails = readTails(of: ready.execution)
            try await progress.report(.collecting(tails), of: id)
            let result = try await handler.plugin.storeResult(context, prepared: ready, outcome: outcome)
            let finished = Date()
            try await results.setResult(
                result, for: context.transformation.checksum,
                record: ExecutionRecord(
                    jobID: id.description, handler: handler.name, startedAt: started.timeIntervalSince1970,
                    finishedAt: finished.timeIntervalSince1970,
                    wallTimeSeconds: finished.timeIntervalSince(started),
                    hostname: Self.hostname))
            return .succeeded(result, tails, workDirectory: ready.workDirectory)
        } catch is CancellationError {
            if let prepared { tails = readTails(of: prepared.execution) }
            if stopping.isSet { return .interrupted }
            return .cancelled(reason: "cancelled while \(prepared == nil ? "preparing" : "running")")
        } catch let failure as JobFailure {
            if let prepared {
                if tails.stdout == nil { tails = readTails(of: prepared.execution) }
                keepWorkDirectory(prepared.workDirectory, reason: failure.message)
            }
            return .failed(failure.message, tails)
        } catch {
            if Task.isCancelled, stopping.isSet { return .interrupted }
            if let prepared { keepWorkDirectory(prepared.workDirectory, reason: "\(error)") }
            return .failed("\(error)", tails)
        }
    }

    /// A leftover directory of this job whose command recorded its exit status, and that
    /// status: the attempt ended by itself.
    private func finishedAttempt(among leftovers: Set<String>) -> (String, Int32)? {
        guard context.recordsExitStatus else { return nil }
        for directory in leftovers.sorted() {
            if let code = WorkDirectory(path: directory).recordedExitStatus(jobID: context.jobID) {
                return (directory, code)
            }
        }
        return nil
    }

    /// The prepared job to re-attach to, or nil when the plugin cannot rebuild it: the
    /// execution is then stopped and the job runs again from the start.
    private func reattach(_ point: ResumePoint) async -> PreparedJob? {
        do {
            return try await handler.plugin.reattach(context, workDirectory: point.workDirectory)
        } catch {
            context.logger.warning("cannot re-attach; the job runs again", metadata: ["error": "\(error)"])
            await handler.backend.abandon(externalID: point.externalID)
            return nil
        }
    }

    private func readTails(of execution: Execution) -> OutputTails {
        OutputTails(
            stdout: Self.tail(of: execution.stdoutPath, bytes: settings.outputTailBytes),
            stderr: Self.tail(of: execution.stderrPath, bytes: settings.outputTailBytes))
    }

    /// Asked once: Foundation asks the kernel (uname) at every call, and it is in every result's record.
    private static let hostname = ProcessInfo.processInfo.hostName

    /// The last `bytes` bytes of a file as text; nil when the file is absent or empty.
    static func tail(of path: String, bytes: Int) -> String? {
        // The usual case, an empty file, answered by one stat; its size places the read.
        var status = stat()
        guard stat(path, &status) == 0, status.st_size > 0 else { return nil }
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        let size = UInt64(status.st_size)
        try? handle.seek(toOffset: size > UInt64(bytes) ? size - UInt64(bytes) : 0)
        guard let data = try? handle.readToEnd() else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// Marks a failed job's directory for the janitor, which removes it after
    /// `keep_failed_workdirs`; removes it at once when nothing is kept or it is larger than
    /// `keep_failed_workdirs_max_size` (a job that filled the disk must not keep it full).
    private func keepWorkDirectory(_ path: String, reason: String) {
        do {
            let fate = try FailedWorkDirectory.settle(
                WorkDirectory(path: path), reason: reason, keepFor: settings.keepFailedWorkDirectories,
                maxBytes: settings.keepFailedWorkDirectoryMaxBytes)
            if case .removed(let bytes?) = fate {
                context.logger.notice(
                    "removed the failed job's work directory at once: it takes more than keep_failed_workdirs_max_size",
                    metadata: [
                        "path": "\(path)", "bytes": "\(bytes)", "limit": "\(settings.keepFailedWorkDirectoryMaxBytes)",
                    ])
            }
        } catch {
            context.logger.warning(
                "could not keep or remove the failed job's work directory",
                metadata: ["path": "\(path)", "error": "\(error)"])
        }
    }

    static func removeWorkDirectory(_ path: String, logger: Logger) {
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            logger.warning("could not remove work directory", metadata: ["path": "\(path)", "error": "\(error)"])
        }
    }
}
