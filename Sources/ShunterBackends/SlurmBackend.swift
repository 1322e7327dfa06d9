import Foundation
import Logging
import ShunterCore
import ShunterHandlers

/// Runs each execution as one Slurm batch job.
///
/// - Submission: a batch script in the job's directory (`SlurmBatchScript`), `sbatch
///   --parsable`, at most `submit_concurrency` at once. The job id is journaled through
///   `events.started` before anything else happens. A controller that cannot be reached makes
///   the submission wait and retry (after checking by name that the failed call did not land);
///   any other refusal fails the job with Slurm's message.
/// - Tracking: `SlurmQueuePoller`, one `squeue` per interval for every job of the handler.
/// - Time limit: `min(limits.timeout, walltime)` goes to `sbatch --time` (whole minutes) and is
///   also enforced by the broker from the moment the job is seen running (`scancel`).
/// - Cancel: `scancel`, then wait until Slurm reports the job ended. When the broker is shutting
///   down the job is left running: the next start re-attaches to it (`resume`).
/// - Recovery: `resume` follows a journaled job id; without one (the broker died between
///   `sbatch` and the journal) it finds the job by its name `shunter-<tf prefix>-<job id>` and
///   work directory, and submits only if Slurm has none.
package struct SlurmBackend: AvailabilityReporting {
    package static let descriptor = BackendDescriptor(
        component: ComponentCatalog.Component(
            name: "slurm",
            summary: "submits each job as a Slurm batch job (sbatch) and follows all of them with one squeue per "
                + "interval; re-attaches to running jobs after a broker restart",
            optionSection: "slurm",
            optionKeys: SlurmOptions.keys
        ),
        make: { handler, context in try SlurmBackend(handler: handler, killGrace: context.killGrace) }
    )

    package let options: SlurmOptions
    package var killGrace: Duration
    let runner: SlurmCommandRunner
    let poller: SlurmQueuePoller
    private let gate: SlurmSubmissionGate
    private let logger: Logger

    package var recoveryModel: RecoveryModel { .reattach }

    package init(
        options: SlurmOptions, killGrace: Duration = .seconds(5),
        logger: Logger = Logger(label: "shunter.backend.slurm")
    ) {
        self.options = options
        self.killGrace = killGrace
        self.logger = logger
        runner = SlurmCommandRunner(binDirectory: options.binDirectory, timeout: options.commandTimeout)
        poller = SlurmQueuePoller(options: options, runner: runner, logger: logger)
        gate = SlurmSubmissionGate(limit: options.submitConcurrency)
    }

    /// Reads the handler's `slurm:` section. A machine without `sbatch` is no reason to refuse
    /// it: the broker warns at startup (`availabilityProblem`), still serves its other
    /// handlers, and jobs sent here fail saying why.
    package init(handler: HandlerConfig, killGrace: Duration = .seconds(5)) throws {
        var logger = Logger(label: "shunter.backend.slurm")
        logger[metadataKey: "handler"] = "\(handler.name)"
        self.init(options: try SlurmOptions(handler: handler), killGrace: killGrace, logger: logger)
    }

    package func availabilityProblem() async -> String? {
        missingTools()
    }

    /// Why Slurm's tools cannot be used here, nil when `sbatch` and `squeue` are found.
    package func missingTools() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let directories = options.binDirectory.map { [$0] } ?? path.split(separator: ":").map(String.init)
        for tool in ["sbatch", "squeue", "scancel"] {
            if !directories.contains(where: { FileManager.default.isExecutableFile(atPath: $0 + "/" + tool) }) {
                return
                    "'\(tool)' is not in \(options.binDirectory.map { "slurm.bin_dir \($0)" } ?? "the broker's PATH (\(path))")"
            }
        }
        return nil
    }

    // MARK: - Backend

    package func run(_ execution: Execution, events: ExecutionEvents) async throws -> ExecutionOutcome {
        try Task.checkCancellation()
        let execution = try await inContainer(withDefaults(execution))
        if let problem = missingTools() { throw BackendError.unavailable(backend: "slurm", reason: problem) }
        let files = SlurmJobFiles(execution: execution)
        let started = ContinuousClock.now
        let jobID = try await submit(execution, files: files, events: events)
        return try await follow(jobID, execution: execution, files: files, events: events, since: started)
    }

    package func resume(_ execution: Execution, externalID: String, events: ExecutionEvents) async throws
        -> ExecutionOutcome
    {
        let execution = try await inContainer(withDefaults(execution))
        let files = SlurmJobFiles(execution: execution)
        let started = ContinuousClock.now
        if !externalID.isEmpty {
            logger.info("re-attaching", metadata: ["job": "\(execution.jobID)", "slurm_job": "\(externalID)"])
            return try await follow(externalID, execution: execution, files: files, events: events, since: started)
        }
        // The broker died after submitting but before journaling the id: find the job by name.
        if let found = try await poller.find(name: files.jobName, workDirectory: files.workDirectory) {
            logger.notice(
                "found the job a crashed broker submitted",
                metadata: ["job": "\(execution.jobID)", "slurm_job": "\(found.jobID)"])
            try await events.started(found.jobID)
            return try await follow(found.jobID, execution: execution, files: files, events: events, since: started)
        }
        if let code = files.recordedExitCode() {
            // Ran and forgotten by Slurm (no accounting), but its exit was recorded.
            return ExecutionOutcome(termination: .exited(code), wallTime: .zero)
        }
        if let found = try await findAfterOrphanedSubmission(files) {
            try await events.started(found.jobID)
            return try await follow(found.jobID, execution: execution, files: files, events: events, since: started)
        }
        logger.info(
            "no Slurm job found for an interrupted submission; submitting it",
            metadata: ["job": "\(execution.jobID)", "name": "\(files.jobName)"])
        return try await run(execution, events: events)
    }

    /// A job that names an image runs as `apptainer exec` inside its batch job, built exactly
    /// as the local Apptainer backend builds it (same image mapping, isolation and binds), so a
    /// container job gives the same answer on a workstation and on the cluster.
    func inContainer(_ execution: Execution) async throws -> Execution {
        guard let image = execution.image else { return execution }
        guard let settings = options.container else {
            throw BackendError.launchFailed(
                command: "sbatch",
                reason: "the job asks for image '\(image)' but this handler has no slurm.container section "
                    + "(e.g. container: {runtime: apptainer, image_dir: /shared/images})")
        }
        if let problem = ContainerImageName.problem(with: image) {
            throw BackendError.launchFailed(command: "apptainer exec", reason: problem)
        }
        let apptainer = ApptainerBackend(settings: settings, killGrace: killGrace, logger: logger)
        guard let tool = apptainer.tool else {
            throw BackendError.unavailable(
                backend: "slurm", reason: "'\(settings.executable)' (slurm.container) is not on the broker's PATH")
        }
        let imagePath = try await apptainer.resolveImage(image, tool: tool)
        var wrapped = try apptainer.clientExecution(execution, tool: tool, imagePath: imagePath)
        wrapped.resources = execution.resources
        return wrapped
    }

    /// The job's own request (from `__meta__`) over the handler's `slurm:` defaults.
    func withDefaults(_ execution: Execution) -> Execution {
        var execution = execution
        execution.resources = execution.resources.filling(from: options.defaults)
        return execution
    }

    /// An `sbatch` the killed broker had started outlives it and may still be talking to the
    /// controller. The script is written just before `sbatch` runs, so a script younger than
    /// the command timeout means such a call may be in flight: wait until it must be over and
    /// look by name once more.
    private func findAfterOrphanedSubmission(_ files: SlurmJobFiles) async throws -> SlurmJobStatus? {
        guard
            let written = (try? FileManager.default.attributesOfItem(atPath: files.scriptPath))?[.modificationDate]
                as? Date
        else { return nil }
        let settle = options.commandTimeout + .seconds(2)
        // The job could have set the script's time to anything: a time in the future counts
        // as just written, one too far in the past as old, with no conversion that can trap.
        let age =
            CheckedQuantity.duration(seconds: max(0, Date().timeIntervalSince(written)))
            ?? CheckedQuantity.maximumDuration
        guard age < settle else { return nil }
        logger.info(
            "waiting for a submission the previous broker may have left in flight",
            metadata: ["name": "\(files.jobName)"])
        try await Task.sleep(for: settle - age)
        return try await poller.find(name: files.jobName, workDirectory: files.workDirectory)
    }

    package func abandon(externalID: String) async {
        guard !externalID.isEmpty else { return }
        _ = try? await runner.run("scancel", [externalID])
    }

    // MARK: - Submission

    private func submit(_ execution: Execution, files: SlurmJobFiles, events: ExecutionEvents) async throws -> String {
        let script: String
        do {
            script = try SlurmBatchScript.text(for: execution, files: files, timeLimit: Self.timeLimit(of: execution))
        } catch {
            throw BackendError.launchFailed(command: "sbatch", reason: error.description)
        }
        var delay = options.pollInterval
        do {
            while true {
                let result = try await gate.withPermit { [runner] in
                    // Written only with a permit in hand: a job directory without a script was
                    // never submitted, which recovery relies on.
                    do {
                        try Data(script.utf8).write(to: URL(fileURLWithPath: files.scriptPath), options: .atomic)
                        try? FileManager.default.removeItem(atPath: files.exitMarkerPath)
                    } catch {
                        throw BackendError.launchFailed(
                            command: "sbatch", reason: "cannot write \(files.scriptPath): \(error.localizedDescription)"
                        )
                    }
                    return try await runner.run(
                        "sbatch", ["--parsable", files.scriptPath],
                        environment: SlurmCommandRunner.submissionEnvironment())
                }
                var jobID: String?
                if result.succeeded {
                    jobID = result.stdout.split(separator: "\n").last.flatMap { $0.split(separator: ";").first }
                        .map { $0.trimmingCharacters(in: .whitespaces) }
                } else if Self.isTransient(result) {
                    logger.warning(
                        "sbatch could not reach Slurm; retrying",
                        metadata: ["job": "\(execution.jobID)", "error": "\(result.message)"])
                    // A timed-out call may still have landed: never submit twice.
                    jobID = try await poller.find(name: files.jobName, workDirectory: files.workDirectory)?.jobID
                    if jobID == nil {
                        try await Task.sleep(for: delay)
                        delay = min(delay * 2, options.maxPollInterval)
                        continue
                    }
                } else {
                    throw SlurmJobError("sbatch refused the job: \(result.message) (batch script: \(files.scriptPath))")
                }
                guard let jobID, !jobID.isEmpty, jobID.allSatisfy({ $0.isNumber || $0 == "_" }) else {
                    throw SlurmJobError("sbatch answered without a job id: '\(result.stdout.prefix(200))'")
                }
                logger.debug("submitted", metadata: ["job": "\(execution.jobID)", "slurm_job": "\(jobID)"])
                do {
                    try await events.started(jobID)
                } catch {
                    // Not journaled: the job must not run untracked.
                    _ = try? await runner.run("scancel", [jobID])
                    throw error
                }
                return jobID
            }
        } catch is CancellationError {
            // A killed sbatch may have submitted the job all the same.
            if await !events.brokerIsStopping() {
                await Task { [runner] in
                    _ = try? await runner.run("scancel", ["--name=\(files.jobName)", "--user=\(NSUserName())"])
                }.value
            }
            throw CancellationError()
        }
    }

    /// Failures that say nothing about the job, only that the controller is busy or away.
    static func isTransient(_ result: SlurmCommandRunner.Result) -> Bool {
        if result.timedOut || result.status == nil { return true }
        let text = result.stderr.lowercased()
        return [
            "unable to contact slurm controller", "socket timed out", "temporarily", "try again",
            "zero bytes were transmitted", "connection refused", "slurm_persist_conn", "transient",
        ]
        .contains { text.contains($0) }
    }

    /// The job's limit: the handler's timeout capped by the walltime it asked for.
    static func timeLimit(of execution: Execution) -> Duration? {
        switch (execution.timeout, execution.resources.walltime) {
        case (let timeout?, let walltime?): min(timeout, walltime)
        case (let timeout?, nil): timeout
        case (nil, let walltime?): walltime
        case (nil, nil): nil
        }
    }

    // MARK: - Following a submitted job

    private enum Finish: Sendable {
        case ended(SlurmJobStatus)
        case timerFired
    }

    private func follow(
        _ jobID: String, execution: Execution, files: SlurmJobFiles, events: ExecutionEvents,
        since started: ContinuousClock.Instant
    ) async throws -> ExecutionOutcome {
        let limit = Self.timeLimit(of: execution)
        let finish: Finish
        do {
            finish = try await withThrowingTaskGroup(of: Finish.self) { [poller] group in
                group.addTask {
                    .ended(try await poller.wait(for: jobID, markerPath: files.exitMarkerPath) { _ in false })
                }
                if let limit {
                    group.addTask {
                        // The limit counts from the start of the run, not from submission.
                        _ = try await poller.wait(for: jobID, markerPath: files.exitMarkerPath) { $0.hasStarted }
                        try await Task.sleep(for: limit)
                        return .timerFired
                    }
                }
                let first = try await group.next()!
                group.cancelAll()
                return first
            }
        } catch is CancellationError {
            if await events.brokerIsStopping() {
                logger.info(
                    "broker stopping: Slurm job left running for the next start", metadata: ["slurm_job": "\(jobID)"])
                throw CancellationError()
            }
            await Task { await self.cancel(jobID, files: files) }.value
            throw CancellationError()
        }
        let wallTime = ContinuousClock.now - started
        let status: SlurmJobStatus
        switch finish {
        case .timerFired:
            logger.info(
                "time limit reached; cancelling", metadata: ["job": "\(execution.jobID)", "slurm_job": "\(jobID)"])
            await cancel(jobID, files: files)
            return ExecutionOutcome(termination: .timedOut(limit!), wallTime: wallTime, externalID: jobID)
        case .ended(let ended):
            status = ended
        }
        switch SlurmJobEnd.of(status, limit: limit, memory: execution.resources.memoryBytes) {
        case .outcome(.exited(let slurmCode)):
            // The marker is written last by the job: once it shows, so do RESULT and the output
            // files, even on a shared file system that shows the node's writes late.
            let code = await waitForMarker(files) ?? slurmCode
            return ExecutionOutcome(termination: .exited(code), wallTime: wallTime, externalID: jobID)
        case .outcome(let termination):
            return ExecutionOutcome(termination: termination, wallTime: wallTime, externalID: jobID)
        case .cancelled:
            throw SlurmJobError(
                "Slurm job \(jobID) was cancelled outside Shunter (scancel or an administrator)"
                    + slurmOutputTail(files))
        case .failure(let message):
            throw SlurmJobError(message + slurmOutputTail(files))
        }
    }

    /// `scancel`, then wait (bounded) until Slurm reports the job ended, so that nothing of it
    /// still runs when the caller goes on.
    private func cancel(_ jobID: String, files: SlurmJobFiles) async {
        let result = try? await runner.run("scancel", [jobID])
        if let result, !result.succeeded {
            logger.warning("scancel failed", metadata: ["slurm_job": "\(jobID)", "error": "\(result.message)"])
        }
        let bound = killGrace + options.maxPollInterval + .seconds(5)
        _ = try? await withThrowingTaskGroup(of: Void.self) { [poller] group in
            group.addTask { _ = try await poller.wait(for: jobID, markerPath: files.exitMarkerPath) { _ in false } }
            group.addTask { try await Task.sleep(for: bound) }
            _ = try await group.next()
            group.cancelAll()
        }
    }

    private func waitForMarker(_ files: SlurmJobFiles) async -> Int32? {
        let deadline = ContinuousClock.now + options.markerWait
        while true {
            if let code = files.recordedExitCode() { return code }
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    /// The end of Slurm's own output for the job (slurmstepd's "CANCELLED AT ... DUE TO", OOM
    /// notices), for failure messages.
    private func slurmOutputTail(_ files: SlurmJobFiles) -> String {
        guard let data = FileManager.default.contents(atPath: files.slurmOutputPath), !data.isEmpty else { return "" }
        let text = String(decoding: data.suffix(2000), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return "\nSlurm's output for the job (\(files.slurmOutputPath)):\n" + text
    }
}

/// A Slurm job that ended without an exit code the plugin could read: refused at submission,
/// out of memory, node failure, preempted, cancelled by someone else. The message says which.
package struct SlurmJobError: Error, Sendable, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}
