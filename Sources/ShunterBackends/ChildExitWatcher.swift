import CShunterSpawn
import Foundation
import Synchronization

/// Tells when children of this process exit.
///
/// One thread waits on the pidfds of all running children at once (epoll), so a running job
/// holds no thread, no task and no timer, and its exit costs one wake-up of this thread. Where
/// the kernel has no pidfd, each child gets a thread blocked in `waitpid` instead (correct,
/// only slower).
///
/// The watcher does not reap: a child it reports is still a zombie, so its pid cannot have been
/// reused yet, and `ChildProcess` reaps it. Nothing else in the broker waits for these children
/// (`ProcessGroup.reapAdoptedMembers` waits by group only once the leader has been reaped).
final class ChildExitWatcher: Sendable {
    static let shared = ChildExitWatcher()

    /// The epoll set; -1 when there is none (the per-child-thread fallback).
    private let watchFD: Int32
    /// What to do when a pidfd becomes readable, by pidfd.
    private let pending = Mutex<[Int32: @Sendable () -> Void]>([:])

    private init() {
        watchFD = shunter_exit_watch_create()
        guard watchFD >= 0 else { return }
        let thread = Thread { [self] in waitForExits() }
        thread.name = "shunter-child-exits"
        thread.start()
    }

    /// Calls `onExit` once `pid` has exited, before anything has reaped it. `onExit` runs on the
    /// watcher's thread, so it must be short (reap, resume a continuation).
    func watch(_ pid: pid_t, onExit: @escaping @Sendable () -> Void) {
        let pidfd = watchFD >= 0 ? shunter_pidfd_open(pid) : -1
        if pidfd >= 0 {
            // Listed before it is added: the exit may be reported at once.
            pending.withLock {
                $0[pidfd] = {
                    close(pidfd)
                    onExit()
                }
            }
            if shunter_exit_watch_add(watchFD, pidfd) == 0 { return }
            pending.withLock { _ = $0.removeValue(forKey: pidfd) }
            close(pidfd)
        }
        let thread = Thread {
            Self.waitWithoutReaping(pid)
            onExit()
        }
        thread.name = "shunter-child-\(pid)"
        thread.start()
    }

    private func waitForExits() {
        var ready = [Int32](repeating: -1, count: 64)
        while true {
            let count = ready.withUnsafeMutableBufferPointer {
                shunter_exit_watch_wait(watchFD, $0.baseAddress, Int32($0.count))
            }
            // epoll_wait fails (beyond EINTR, retried) only on a bad set, which would be a bug here.
            precondition(count >= 0, "waiting for child processes failed: errno \(errno)")
            for pidfd in ready.prefix(Int(count)) {
                let action = pending.withLock { $0.removeValue(forKey: pidfd) }
                action?()
            }
        }
    }

    /// Blocks until `pid` has exited, leaving it a zombie.
    private static func waitWithoutReaping(_ pid: pid_t) {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0 {
            // ECHILD: it is gone already (see ChildProcess.reap); there is nothing to wait for.
            guard errno == EINTR else { return }
        }
    }
}
