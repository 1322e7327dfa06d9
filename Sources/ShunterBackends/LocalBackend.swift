import Foundation
import Logging
import ShunterCore
import ShunterHandlers
import Synchronization
import SystemPackage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs an execution as a process on the broker's own machine.
///
/// The command starts in a new session (`setsid`), so it and everything it starts form one
/// process group that can be stopped as a whole. `ChildProcess` spawns it and
/// `ChildExitWatcher` waits for it through a pidfd, so no Swift concurrency thread ever blocks.
///
/// A timeout or a cancelled task stops the group: SIGTERM to every member, `killGrace` to exit,
/// then SIGKILL. After a normal exit whatever the job left running in its group gets the same
/// treatment (Seamless sends SIGTERM to the group once the job is done).
package struct LocalBackend: Backend {
    package static let descriptor = BackendDescriptor(
        component: ComponentCatalog.Component(
            name: "local",
            summary: "runs the job as a process on the broker's machine, in its own session; "
                + "a timeout or a cancel stops its whole process group",
            optionSection: "local",
            optionKeys: [
                "run_as": "user name (or uid) the jobs run as, with that user's primary group as their only group; "
                    + "the broker must run as root (default: the broker's own user)"
            ]
        ),
        make: { handler, context in try LocalBackend(handler: handler, killGrace: context.killGrace) }
    )

    package var killGrace: Duration
    /// Who the jobs run as; nil: the broker's user.
    package var user: JobUser?
    private let logger: Logger

    /// Reports the process's identity, whenever /proc gives one (Linux); the job's processes
    /// run in its work directory (and any they start stay there unless they `cd` away, which a
    /// job's own clean-up is for).
    package var recoveryModel: RecoveryModel { .rerunFoundByWorkDirectory }

    package init(
        killGrace: Duration = .seconds(5), user: JobUser? = nil, logger: Logger = Logger(label: "shunter.backend.local")
    ) {
        self.killGrace = killGrace
        self.user = user
        self.logger = logger
        _ = OrphanReaper.adopt
    }

    /// Reads the handler's `local:` section: `run_as` must name a user of this machine, and
    /// a broker that is not root can only run jobs as itself.
    package init(handler: HandlerConfig, killGrace: Duration) throws {
        let options = try OptionReader(
            section: "local", of: handler, accepted: Self.descriptor.component.optionKeys.keys)
        var user: JobUser?
        if let name = try options.nameOrNumber("run_as") {
            let location = options.location(of: "run_as")
            guard let found = JobUser.lookUp(name) else {
                throw ConfigError(
                    "'local.run_as' names user '\(name)', which this machine does not have (see /etc/passwd or `getent passwd`)",
                    at: location)
            }
            if found.uid != geteuid() && geteuid() != 0 {
                throw ConfigError(
                    "'local.run_as: \(name)' needs the broker to run as root (it runs as uid \(geteuid())); "
                        + "remove run_as, or start the broker as root",
                    at: location)
            }
            // Running as itself changes nothing: no setuid, no chown.
            user = found.uid == geteuid() && found.gid == getegid() ? nil : found
        }
        self.init(killGrace: killGrace, user: user)
    }

    /// The umask jobs start with: the one the broker was started with, before it made its own
    /// owner-only (what a job writes stays as it was).
    package static func keepJobFileCreationMask(_ mask: mode_t) {
        ChildProcess.jobFileCreationMask.store(Int(mask), ordering: .relaxed)
    }

    /// Kills the process group of a job whose broker was killed, if that very process still
    /// runs (the identity holds boot id and start time, so a reused pid is left alone).
    package func abandon(externalID: String) async {
        guard let identity = ProcessIdentity(externalID: externalID), identity.isAlive else { return }
        logger.notice("killing the process group a crashed broker left running", metadata: ["pid": "\(identity.pid)"])
        kill(-identity.pid, SIGKILL)
    }

    package func run(_ execution: Execution, events: ExecutionEvents) async throws -> ExecutionOutcome {
        try Task.checkCancellation()
        let started = ContinuousClock.now
        if let warm = execution.warmStart,
            let outcome = try await runWarm(execution, warm, events: events, started: started)
        {
            return outcome
        }
        guard let program = execution.command.first else {
            throw BackendError.launchFailed(command: "", reason: "the command is empty")
        }
        let variables = try Self.environment(execution.environment, command: program)
        guard let executable = ExecutableSearch.resolve(program, searchPath: execution.environment["PATH"]) else {
            throw BackendError.launchFailed(
                command: program,
                reason: "no executable of that name in PATH (\(execution.environment["PATH"] ?? "the broker's own"))")
        }
        let stdout = try Self.openOutputFile(execution.stdoutPath, command: program)
        let stderr: FileDescriptor
        do {
            stderr = try Self.openOutputFile(execution.stderrPath, command: program)
        } catch {
            try? stdout.close()
            throw error
        }

        if let user {
            try Self.handOver(execution, to: user, command: program)
        }
        let leader: ChildProcess
        do {
            // The job has its own copies once it started: the broker keeps no descriptor per
            // running job (a thousand running local jobs would otherwise hold 2 000).
            defer {
                try? stdout.close()
                try? stderr.close()
            }
            leader = try ChildProcess.spawnInNewSession(
                executable: executable, arguments: Array(execution.command.dropFirst()), environment: variables,
                directory: execution.workDirectory, stdout: stdout.rawValue, stderr: stderr.rawValue, user: user)
        } catch {
            throw BackendError.launchFailed(command: program, reason: "\(error)")
        }
        let group = ProcessGroup(id: leader.pid)
        logger.debug("started", metadata: ["job": "\(execution.jobID)", "pid": "\(leader.pid)"])
        if let identity = leader.identity {
            do {
                try await events.started(identity.externalID)
            } catch {
                // The broker could not journal the process: it must not run untracked.
                await Self.stop(group, leader: leader, grace: killGrace)
                throw error
            }
        }

        let grace = killGrace
        // A cancel that came during the spawn is seen here: the race starts by stopping the group.
        let finish = try await TimeLimitedRun.race(
            timeout: execution.timeout, run: { await leader.termination() },
            stop: { await Self.stop(group, leader: leader, grace: grace) })

        let wallTime = ContinuousClock.now - started
        switch finish {
        case .timedOut:
            logger.info("timed out", metadata: ["job": "\(execution.jobID)", "pid": "\(leader.pid)"])
            return ExecutionOutcome(termination: .timedOut(execution.timeout ?? wallTime), wallTime: wallTime)
        case .finished(let status):
            // Usually the group ended with its leader: then there is nothing to stop and no
            // task to start (the uncancelled task is only needed to wait for stragglers).
            if !group.isEmptyAfterReaping {
                await Task { await group.stopStragglers(grace: grace) }.value
            }
            switch status {
            case .exited(let code):
                return ExecutionOutcome(termination: .exited(code), wallTime: wallTime)
            case .signaled(let signal):
                return ExecutionOutcome(termination: .signaled(signal), wallTime: wallTime)
            case .failedToStart(let code):
                throw BackendError.launchFailed(
                    command: program, reason: "\(ChildProcess.SpawnError(code: code)) (starting \(executable))")
            }
        }
    }

    /// TERM the group, give it `grace`, KILL it; returns once the leader is reaped and the
    /// group is empty (or only holds what SIGKILL cannot reach at once). Callers run it
    /// uncancelled: it waits for processes to go.
    private static func stop(_ group: ProcessGroup, leader: ChildProcess, grace: Duration) async {
        let deadline = ContinuousClock.now.advanced(by: grace)
        // Right after the spawn the group may not exist yet (the child's setsid is still to
        // come): then the leader alone is all there is to stop.
        if !group.send(SIGTERM) { leader.signal(SIGTERM) }
        let leaderExited = await leader.termination(before: deadline) != nil
        if !leaderExited {
            // The leader ignored TERM.
            if !group.send(SIGKILL) { leader.signal(SIGKILL) }
            _ = await leader.termination()
        } else {
            let remaining = ContinuousClock.now < deadline ? deadline - ContinuousClock.now : .zero
            if await group.waitUntilEmpty(for: remaining) { return }
            group.send(SIGKILL)
        }
        _ = await group.waitUntilEmpty(for: .seconds(2))
    }

    /// Gives a job that runs as `user` its directory: the job directory (where its command
    /// records its exit status) and everything in `work/` become the user's (links themselves,
    /// never what they point to). Standard output and error stay the broker's files: the job
    /// writes them through the descriptors it inherits. (The broker makes the work root
    /// passable for such users at start: `BrokerStartup`.)
    private static func handOver(_ execution: Execution, to user: JobUser, command: String) throws {
        let work = execution.workDirectory
        let jobDirectory = work.hasSuffix("/work") ? String(work.dropLast("/work".count)) : work
        var paths = [jobDirectory, work]
        if let walker = FileManager.default.enumerator(atPath: work) {
            while let relative = walker.nextObject() as? String { paths.append(work + "/" + relative) }
        }
        for path in paths where lchown(path, user.uid, user.gid) != 0 {
            throw BackendError.launchFailed(
                command: command, reason: "cannot hand \(path) to \(user): \(String(cString: strerror(errno)))")
        }
    }

    /// `NAME=value` strings, checked: a name with `=` or a NUL anywhere would corrupt the block.
    private static func environment(_ variables: [String: String], command: String) throws -> [String] {
        try variables.map { name, value in
            guard !name.isEmpty, !name.contains("="), !name.contains("\0"), !value.contains("\0") else {
                throw BackendError.launchFailed(
                    command: command, reason: "illegal environment variable name or value: '\(name)'")
            }
            return "\(name)=\(value)"
        }
    }

    /// Opened empty. Not with `O_TRUNC`: the file is usually there and empty already (a
    /// recycled work directory's), and `O_TRUNC` truncates even an empty file, a file-system
    /// operation per job where an `fstat` answers.
    private static func openOutputFile(_ path: String, command: String) throws -> FileDescriptor {
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(
                FilePath(path), .writeOnly, options: [.create, .closeOnExec],
                permissions: [.ownerReadWrite, .groupRead, .otherRead]
            )
        } catch {
            throw BackendError.launchFailed(command: command, reason: "cannot open \(path) for output: \(error)")
        }
        var status = stat()
        guard fstat(descriptor.rawValue, &status) == 0, status.st_size == 0 || ftruncate(descriptor.rawValue, 0) == 0
        else {
            let reason = String(cString: strerror(errno))
            try? descriptor.close()
            throw BackendError.launchFailed(command: command, reason: "cannot empty \(path) for output: \(reason)")
        }
        return descriptor
    }
}
