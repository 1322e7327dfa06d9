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
/// the exit. That was a measurable share of a trivial job's cost (issue 7's profile). Here the
/// spawn is one `posix_spawn` (a vfork-style clone) and the wait one entry in
/// `ChildExitWatcher`; nothing runs while the job runs.
final class ChildProcess: Sendable {
    let pid: pid_t
    /// Read before the exit watcher can reap the process: a job that ends at once is still a
    /// zombie with its /proc entry then, never a pid that is gone (or already reused).
    let identity: ProcessIdentity?

    private struct State {
        var termination: ChildTermination?
        var waiters: [Int: CheckedContinuation<ChildTermination?, Never>] = [:]
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    private init(pid: pid_t) {
        self.pid = pid
        identity = ProcessIdentity(pid: pid)
    }

    /// Starts `executable` (already resolved: see `ExecutableSearch`) in `directory`, with only
    /// `environment`, standard input from /dev/null and output to the given descriptors (which
    /// the caller still owns and closes), in a new session whose process group it leads.
    ///
    /// Throws the `errno` of a failed start (ENOENT, EACCES, ENOEXEC from the exec included).
    static func spawnInNewSession(
        executable: String, arguments: [String], environment: [String], directory: String,
        stdout: Int32, stderr: Int32
    ) throws(SpawnError) -> ChildProcess {
        var pid: pid_t = 0
        let rc = withCStringArray([executable] + arguments) { argv in
            withCStringArray(environment) { envp in
                shunter_spawn_session(&pid, executable, argv, envp, directory, stdout, stderr)
            }
        }
        guard rc == 0 else { throw SpawnError(code: rc) }
        let child = ChildProcess(pid: pid)
        ChildExitWatcher.shared.watch(pid) { [child] termination in child.ended(termination) }
        return child
    }

    struct SpawnError: Error, CustomStringConvertible {
        var code: Int32
        var description: String { String(cString: strerror(code)) }
    }

    /// How the process ended, once it has (and has been reaped).
    func termination() async -> ChildTermination {
        // Without a deadline the answer is never nil.
        await termination(before: nil)!
    }

    /// How the process ended, or nil if `deadline` passes first. Not cancellable: callers that
    /// stop a job wait for it uncancelled.
    func termination(before deadline: ContinuousClock.Instant?) async -> ChildTermination? {
        await withCheckedContinuation { continuation in
            var waiter = 0
            let known = state.withLock { state -> ChildTermination? in
                if let termination = state.termination { return termination }
                state.nextWaiter += 1
                waiter = state.nextWaiter
                state.waiters[waiter] = continuation
                return nil
            }
            if let known {
                continuation.resume(returning: known)
                return
            }
            guard let deadline else { return }
            // If the process ends first, the entry finds no waiter at its deadline; only stops
            // (timeouts, cancels) use deadlines, so the few seconds it lingers cost nothing.
            _ = Deadlines.shared.schedule(at: deadline) { [self, waiter] in
                let expired = state.withLock { $0.waiters.removeValue(forKey: waiter) }
                expired?.resume(returning: nil)
            }
        }
    }

    private func ended(_ termination: ChildTermination) {
        let waiters = state.withLock { state in
            state.termination = termination
            defer { state.waiters = [:] }
            return state.waiters.values
        }
        for waiter in waiters { waiter.resume(returning: termination) }
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
