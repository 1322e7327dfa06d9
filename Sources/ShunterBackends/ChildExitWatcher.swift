import CShunterSpawn
import Foundation
import Synchronization

/// How a child process ended.
enum ChildTermination: Sendable, Hashable {
    case exited(Int32)
    case signaled(Int32)

    /// Decodes a `waitpid` status (the `WIFEXITED`/`WTERMSIG` macros, which Swift cannot import).
    init(waitStatus status: Int32) {
        let signal = status & 0x7f
        self = signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
    }
}

/// Tells when children of this process exit, and reaps them.
///
/// One thread waits on the pidfds of all running children at once (epoll), so a running job
/// holds no thread, no task and no timer, and its exit costs one wake-up of this thread. Where
/// the kernel has no pidfd, each child gets a thread blocked in `waitpid` instead (correct,
/// only slower).
///
/// Only children started by `ChildProcess` may be watched: the watcher reaps them, and nothing
/// else in the broker waits for them (`ProcessGroup.reapAdoptedMembers` waits by group only
/// once the leader has been reaped here).
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

    /// Calls `onExit` once `pid` has exited and has been reaped. `onExit` runs on the watcher's
    /// thread, so it must be short (resume a continuation).
    func watch(_ pid: pid_t, onExit: @escaping @Sendable (ChildTermination) -> Void) {
        let pidfd = watchFD >= 0 ? shunter_pidfd_open(pid) : -1
        if pidfd >= 0 {
            // Listed before it is added: the exit may be reported at once.
            pending.withLock {
                $0[pidfd] = {
                    close(pidfd)
                    onExit(Self.reap(pid))
                }
            }
            if shunter_exit_watch_add(watchFD, pidfd) == 0 { return }
            pending.withLock { _ = $0.removeValue(forKey: pidfd) }
            close(pidfd)
        }
        let thread = Thread { onExit(Self.reap(pid)) }
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
