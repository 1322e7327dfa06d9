#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

extension LocalBackend {
    /// Runs an execution that asks for a warm start (`Execution.warmStart`) as a child forked
    /// by its warm parent; nil when that parent cannot run jobs (the caller then spawns the
    /// command cold). To the broker the job is a local job like any other: a process leading
    /// its own session in its work directory, journaled by its identity, stopped as a group on
    /// timeout or cancel (the parent signals the group while it has not reaped the child; the
    /// parent itself is never signalled), its exit status as the outcome.
    func runWarm(
        _ execution: Execution, _ warm: WarmStart, events: ExecutionEvents, started: ContinuousClock.Instant
    ) async throws -> ExecutionOutcome? {
        guard let job = try await WarmParents.shared.start(execution, warm) else { return nil }
        guard case .started(let pid) = await job.started() else { return nil }
        let group = ProcessGroup(id: pid)
        let grace = killGrace
        if let identity = ProcessIdentity(pid: pid) {
            do {
                try await events.started(identity.externalID)
            } catch {
                await Self.stopWarm(job, group: group, grace: grace)
                throw error
            }
        }
        let finish = try await TimeLimitedRun.race(
            timeout: execution.timeout, run: { await job.end() },
            stop: { await Self.stopWarm(job, group: group, grace: grace) })
        let wallTime = ContinuousClock.now - started
        switch finish {
        case .timedOut:
            return ExecutionOutcome(termination: .timedOut(execution.timeout ?? wallTime), wallTime: wallTime)
        case .finished(let end):
            if !group.isEmptyAfterReaping {
                await Task { await group.stopStragglers(grace: grace) }.value
            }
            switch end {
            case .process(.exited(let code)):
                return ExecutionOutcome(termination: .exited(code), wallTime: wallTime)
            case .process(.signaled(let signal)):
                return ExecutionOutcome(termination: .signaled(signal), wallTime: wallTime)
            case .process(.failedToStart(let code)):
                throw BackendError.launchFailed(
                    command: execution.command.first ?? "", reason: "\(ChildProcess.SpawnError(code: code))")
            case .setupFailed(let reason):
                throw BackendError.launchFailed(
                    command: execution.command.first ?? "",
                    reason: "its process forked from the warm parent could not be set up: \(reason)")
            case .parentDied(let reason):
                throw WarmParentError(
                    key: warm.parent,
                    reason: "its warm parent died while it ran (\(reason)); the job's processes were killed")
            }
        }
    }

    /// TERM the job's group (through its parent, which knows whether the child is reaped),
    /// `grace` to exit, then KILL; returns once the child is reaped and the group empty.
    private static func stopWarm(_ job: WarmJob, group: ProcessGroup, grace: Duration) async {
        let deadline = ContinuousClock.now.advanced(by: grace)
        job.parent.signal(job, SIGTERM)
        if await job.end(before: deadline) == nil {
            if !job.parent.signal(job, SIGKILL) { group.send(SIGKILL) }
            if await job.end(before: .now.advanced(by: .seconds(10))) == nil {
                // The parent does not answer: it goes, and its children with it (their
                // parent-death signal), which ends the job's wait.
                job.parent.stop(reason: "it did not stop a job", kill: true)
                _ = await job.end()
            }
        } else {
            let remaining = ContinuousClock.now < deadline ? deadline - ContinuousClock.now : .zero
            if await group.waitUntilEmpty(for: remaining) { return }
        }
        group.send(SIGKILL)
        _ = await group.waitUntilEmpty(for: .seconds(2))
    }
}
