import CShunterSpawn
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A process this broker started as the leader of a new session, and the wait for its end.
///
/// Why not swift-subprocess for local jobs: per spawn it forks the broker (copying its page
/// tables and making every page the broker writes next fault once), resets each signal in the
/// child with its own call, and runs a task group with a sleeping task and a stream to wait for
/// the exit. That was a measurable share of a trivial job's cost (docs/performance.md). Here the
/// spawn is one clone sharing the broker's memory, which returns before the child's exec (see
/// spawn_linux.c), and the wait one entry in `ChildExitWatcher`; nothing runs while the job
/// runs.
final class ChildProcess: Sendable {
    let pid: pid_t
    /// Read before the exit watcher can reap the process: a job that ends at once is still a
    /// zombie with its /proc entry then, never a pid that is gone (or already reused).
    let identity: ProcessIdentity?

    private struct State {
        /// Set before the reap: from then on the pid may be reused, and `signal` leaves it alone.
        var reaping = false
        /// What the child reads until its exec; freed once it has been reaped.
        var record: SpawnRecord?
    }

    private let ending = OneTimeValue<ChildTermination>()

    private let state: Mutex<State>

    /// The C spawn record. Only touched under `state`'s lock, and released there once.
    private struct SpawnRecord: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    private init(pid: pid_t, record: OpaquePointer) {
        self.pid = pid
        state = Mutex(State(record: SpawnRecord(pointer: record)))
        identity = ProcessIdentity(pid: pid)
    }

    /// Starts `executable` (already resolved: see `ExecutableSearch`) in `directory`, with only
    /// `environment`, standard input from /dev/null and output to the given descriptors (which
    /// the caller still owns and closes), in a new session whose process group it leads.
    ///
    /// Throws the `errno` of a child that could not be created. One created that then fails
    /// before or at its exec (ENOENT, EACCES, ENOEXEC, a bad directory) ends as
    /// `.failedToStart`: where the spawn returns before the exec, that is only known later.
    ///
    /// `user`: the job runs as that user and group (set in the child after its chdir, before
    /// its exec; the broker must be root). The file creation mask is `jobFileCreationMask`.
    static func spawnInNewSession(
        executable: String, arguments: [String], environment: [String], directory: String,
        stdout: Int32, stderr: Int32, user: JobUser? = nil
    ) throws(SpawnError) -> ChildProcess {
        var pid: pid_t = 0
        var record: OpaquePointer?
        let identity = shunter_spawn_identity(
            uid: user.map { Int($0.uid) } ?? -1, gid: user.map { Int($0.gid) } ?? -1,
            umask: jobFileCreationMask.load(ordering: .relaxed))
        let rc = withCStringArray([executable] + arguments) { argv in
            withCStringArray(environment) { envp in
                shunter_spawn_session_as(&pid, &record, executable, argv, envp, directory, stdout, stderr, identity)
            }
        }
        guard rc == 0, let record else { throw SpawnError(code: rc) }
        let child = ChildProcess(pid: pid, record: record)
        ChildExitWatcher.shared.watch(pid) { [child] in child.exited() }
        return child
    }

    /// The umask jobs start with; -1 leaves them the broker's. The broker makes its own
    /// owner-only at start and gives its jobs the one it was started with
    /// (`LocalBackend.keepJobFileCreationMask`), so that what a job writes is as before.
    static let jobFileCreationMask = Atomic<Int>(-1)

    struct SpawnError: Error, CustomStringConvertible {
        var code: Int32
        var description: String { String(cString: strerror(code)) }
    }

    /// Sends `signal` to the process itself, unless it has been reaped (its pid could then be
    /// another process's). Returns whether it was sent.
    ///
    /// For the moment between the spawn and the child's `setsid`, when its process group does
    /// not exist yet: the child blocks every signal until just before its exec, so one sent
    /// then is not lost, and a TERM or KILL ends it before it runs anything.
    @discardableResult
    func signal(_ signal: Int32) -> Bool {
        state.withLock { state in
            guard !state.reaping else { return false }
            return kill(pid, signal) == 0
        }
    }

    /// How the process ended, once it has (and has been reaped).
    func termination() async -> ChildTermination { await ending.value() }

    /// How the process ended, or nil if `deadline` passes first. Not cancellable: callers that
    /// stop a job wait for it uncancelled.
    func termination(before deadline: ContinuousClock.Instant?) async -> ChildTermination? {
        await ending.value(before: deadline)
    }

    /// Called by the exit watcher once the process has exited (a zombie, not yet reaped).
    private func exited() {
        state.withLock { $0.reaping = true }
        var termination = Self.reap(pid)
        state.withLock { state in
            if let record = state.record {
                // Reaped: the child can no longer be reading the record.
                let startError = shunter_child_start_error(record.pointer)
                if startError != 0 { termination = .failedToStart(errno: startError) }
                shunter_child_release(record.pointer)
                state.record = nil
            }
        }
        ending.set(termination)
    }

    /// Waits for `pid` and returns how it ended.
    private static func reap(_ pid: pid_t) -> ChildTermination {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            // Only ECHILD remains: something else in this process reaped the child (a
            // `waitpid(-1)`), which the broker never does; its status is lost.
            guard errno == EINTR else { return .exited(-1) }
        }
        return ChildTermination(waitStatus: status)
    }
}

/// Calls `body` with a NULL-terminated C array of copies of `strings`, freed afterwards.
private func withCStringArray<Result>(
    _ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> Result
) -> Result {
    let copies = strings.map { strdup($0) } + [nil]
    defer { for copy in copies { free(copy) } }
    return copies.withUnsafeBufferPointer { body($0.baseAddress!) }
}
