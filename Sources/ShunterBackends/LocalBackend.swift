import Logging
import ShunterCore
import ShunterHandlers
import Subprocess
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
/// process group that can be stopped as a whole. swift-subprocess spawns it and waits for it
/// through a pidfd on its own event thread, so no Swift concurrency thread ever blocks.
///
/// A timeout or a cancelled task stops the group: SIGTERM to every member, `killGrace` to exit,
/// then SIGKILL. After a normal exit whatever the job left running in its group gets the same
/// treatment (Seamless sends SIGTERM to the group once the job is done).
public struct LocalBackend: Backend {
    public static let descriptor = BackendDescriptor(
        component: ComponentCatalog.Component(
            name: "local",
            summary: "runs the job as a process on the broker's machine, in its own session; "
                + "a timeout or a cancel stops its whole process group"
        ),
        make: { _, context in LocalBackend(killGrace: context.killGrace) }
    )

    public var killGrace: Duration
    private let logger: Logger

    public init(killGrace: Duration = .seconds(5), logger: Logger = Logger(label: "shunter.backend.local")) {
        self.killGrace = killGrace
        self.logger = logger
        _ = OrphanReaper.adopt
    }

    /// Kills the process group of a job whose broker was killed, if that very process still
    /// runs (the identity holds boot id and start time, so a reused pid is left alone).
    public func abandon(externalID: String) async {
        guard let identity = ProcessIdentity(externalID: externalID), identity.isAlive else { return }
        logger.notice("killing the process group a crashed broker left running", metadata: ["pid": "\(identity.pid)"])
        kill(-identity.pid, SIGKILL)
    }

    public func run(_ execution: Execution, events: ExecutionEvents) async throws -> ExecutionOutcome {
        try Task.checkCancellation()
        let started = ContinuousClock.now
        guard let program = execution.command.first else {
            throw BackendError.launchFailed(command: "", reason: "the command is empty")
        }
        let variables = try Self.environment(execution.environment, command: program)
        let stdout = try Self.openOutputFile(execution.stdoutPath, command: program)
        let stderr: FileDescriptor
        do {
            stderr = try Self.openOutputFile(execution.stderrPath, command: program)
        } catch {
            try? stdout.close()
            throw error
        }

        var options = PlatformOptions()
        options.createSession = true
        let configuration = Subprocess.Configuration(
            executable: program.contains("/") ? .path(FilePath(program)) : .name(program),
            arguments: Arguments(Array(execution.command.dropFirst())),
            environment: .custom(variables),
            workingDirectory: FilePath(execution.workDirectory),
            platformOptions: options
        )

        // The process runs in an unstructured task so that cancelling the caller does not
        // trigger swift-subprocess's own teardown (which stops when the leader exits and would
        // miss grandchildren): this backend decides how the group is stopped.
        let leaderID = LeaderID()
        let process = Task { () throws -> TerminationStatus in
            defer { leaderID.set(nil) }
            let result = try await Subprocess.run(
                configuration,
                input: .none,
                output: .fileDescriptor(stdout, closeAfterSpawningProcess: true),
                error: .fileDescriptor(stderr, closeAfterSpawningProcess: true)
            ) { running in
                leaderID.set(running.processIdentifier.value)
            }
            return result.terminationStatus
        }

        // Not cancellable: a job cancelled while it starts must still be found and stopped below.
        guard let leader = await leaderID.value() else {
            // The body never ran: the spawn failed (swift-subprocess closes the descriptors).
            do {
                _ = try await process.value
                throw BackendError.launchFailed(command: program, reason: "the process did not start")
            } catch let error as SubprocessError {
                throw BackendError.launchFailed(command: program, reason: "\(error)")
            }
        }
        let group = ProcessGroup(id: leader)
        logger.debug("started", metadata: ["job": "\(execution.jobID)", "pid": "\(leader)"])
        if let identity = ProcessIdentity(pid: leader) {
            do {
                try await events.started(identity.externalID)
            } catch {
                // The broker could not journal the process: it must not run untracked.
                await Task { await Self.stop(group, leader: process, grace: killGrace) }.value
                throw error
            }
        }

        let grace = killGrace
        let finish = try await TimeLimitedRun.race(
            timeout: execution.timeout, run: { try await process.value },
            stop: { await Self.stop(group, leader: process, grace: grace) })

        let wallTime = ContinuousClock.now - started
        switch finish {
        case .timedOut:
            logger.info("timed out", metadata: ["job": "\(execution.jobID)", "pid": "\(leader)"])
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
            }
        }
    }

    /// TERM the group, give it `grace`, KILL it; returns once the leader is reaped and the
    /// group is empty (or only holds what SIGKILL cannot reach at once).
    private static func stop(_ group: ProcessGroup, leader: Task<TerminationStatus, any Error>, grace: Duration) async {
        let deadline = ContinuousClock.now.advanced(by: grace)
        group.send(SIGTERM)
        let leaderExited = await withTaskGroup(of: Bool.self) { race in
            race.addTask {
                _ = await leader.result
                return true
            }
            race.addTask {
                try? await Task.sleep(until: deadline)
                return false
            }
            let first = await race.next()!
            // The leader ignored TERM; KILL lets the child awaiting it finish.
            if !first { group.send(SIGKILL) }
            race.cancelAll()
            return first
        }
        _ = await leader.result
        if leaderExited {
            let remaining = ContinuousClock.now < deadline ? deadline - ContinuousClock.now : .zero
            if await group.waitUntilEmpty(for: remaining) { return }
            group.send(SIGKILL)
        }
        _ = await group.waitUntilEmpty(for: .seconds(2))
    }

    private static func environment(_ variables: [String: String], command: String) throws -> [Environment.Key: String] {
        var out: [Environment.Key: String] = [:]
        for (name, value) in variables {
            guard !name.isEmpty, !name.contains("="), !name.contains("\0"), !value.contains("\0") else {
                throw BackendError.launchFailed(command: command, reason: "illegal environment variable name or value: '\(name)'")
            }
            out[Environment.Key(rawValue: name)!] = value
        }
        return out
    }

    private static func openOutputFile(_ path: String, command: String) throws -> FileDescriptor {
        do {
            return try FileDescriptor.open(
                FilePath(path), .writeOnly, options: [.create, .truncate, .closeOnExec],
                permissions: [.ownerReadWrite, .groupRead, .otherRead]
            )
        } catch {
            throw BackendError.launchFailed(command: command, reason: "cannot open \(path) for output: \(error)")
        }
    }
}

/// The pid of a job's first process, handed from the task that runs it to the one that waits
/// for it (nil when the spawn failed), without a stream or a task of its own.
private final class LeaderID: Sendable {
    private let state = Mutex<(value: pid_t??, waiter: CheckedContinuation<pid_t?, Never>?)>((nil, nil))

    /// The first call counts.
    func set(_ pid: pid_t?) {
        let waiter = state.withLock { state -> CheckedContinuation<pid_t?, Never>? in
            guard state.value == nil else { return nil }
            state.value = .some(pid)
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: pid)
    }

    func value() async -> pid_t? {
        await withCheckedContinuation { continuation in
            let known = state.withLock { state -> pid_t?? in
                if state.value == nil { state.waiter = continuation }
                return state.value
            }
            if let known { continuation.resume(returning: known) }
        }
    }
}
