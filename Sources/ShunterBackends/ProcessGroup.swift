#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The process group (and session) a local job runs in: its id is the pid of the job's first
/// process, which `setsid` made the leader of both.
///
/// Everything a job starts (subshells, `cmd &`, pipelines) inherits the group unless it calls
/// `setsid`/`setpgid` itself, so signalling the group reaches the grandchildren that signalling
/// the leader alone would miss.
struct ProcessGroup: Sendable {
    let id: pid_t

    /// Sends `signal` to every member. Returns false when the group has no member left.
    @discardableResult
    func send(_ signal: Int32) -> Bool {
        kill(-id, signal) == 0
    }

    /// Whether any process (a zombie included) is still in the group.
    var hasMembers: Bool { kill(-id, 0) == 0 }

    /// Reaps members that became our children after their parent died (see
    /// `OrphanReaper.adopt`), so that they leave no zombies behind.
    ///
    /// Only call this once the leader has been reaped by its own waiter: `waitid(P_PGID)` would
    /// otherwise steal the leader's exit status from swift-subprocess.
    func reapAdoptedMembers() {
        #if os(Linux)
            var status: Int32 = 0
            // waitpid(-group): any child of ours in that group; 0 when none has exited yet.
            while waitpid(-id, &status, WNOHANG) > 0 {}
        #endif
    }

    /// Reaps what we adopted, then answers whether the group has no member left. Only once
    /// the leader has been reaped (as `reapAdoptedMembers`).
    var isEmptyAfterReaping: Bool {
        reapAdoptedMembers()
        return !hasMembers
    }

    /// After the leader has been reaped: TERM whatever is left, give it `grace` to exit, then
    /// KILL it, and reap what we adopted. Returns at once in the common case (nothing left).
    func stopStragglers(grace: Duration) async {
        reapAdoptedMembers()
        guard send(SIGTERM) else { return }
        if await waitUntilEmpty(for: grace) { return }
        send(SIGKILL)
        // KILL cannot be ignored; the bound only guards against processes stuck in the kernel
        // (uninterruptible I/O) or zombies owned by an init that does not reap.
        _ = await waitUntilEmpty(for: .seconds(2))
    }

    /// Polls (the members have no descriptor to wait on) until the group is gone or `limit`
    /// passes. Returns whether it is gone.
    func waitUntilEmpty(for limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now.advanced(by: limit)
        while true {
            reapAdoptedMembers()
            if !hasMembers { return true }
            if ContinuousClock.now >= deadline { return false }
            // Task.sleep returns at once in a cancelled task; callers run this uncancelled.
            try? await Task.sleep(for: .milliseconds(5))
        }
    }
}

/// Makes this process the "child subreaper" of everything it starts (Linux only).
///
/// When a job's shell dies, its background children are re-parented. Without this they go to
/// PID 1, and in a container whose init never calls `wait` (this machine's does not) every
/// killed grandchild stays a zombie for good. As subreaper the broker adopts them instead, and
/// `ProcessGroup.reapAdoptedMembers` reaps them by group. Process-wide and idempotent.
enum OrphanReaper {
    static let adopt: Bool = {
        #if os(Linux)
            // prctl is variadic in C, which Swift cannot call directly; all its arguments here are
            // integers, so calling it through a fixed five-argument signature is ABI-compatible on
            // the Linux targets we build for (x86_64, aarch64).
            typealias Prctl = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "prctl") else { return false }
            let prctl = unsafeBitCast(symbol, to: Prctl.self)
            let PR_SET_CHILD_SUBREAPER: Int32 = 36
            return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
        #else
            return false
        #endif
    }()
}
