/// How a child process ended.
enum ChildTermination: Sendable, Hashable {
    case exited(Int32)
    case signaled(Int32)
    /// It never reached its exec: the errno of the step that failed (setsid, chdir, the exec
    /// itself). Only where the spawn returns before the exec (see spawn_linux.c).
    case failedToStart(errno: Int32)

    /// Decodes a `waitpid` status (the `WIFEXITED`/`WTERMSIG` macros, which Swift cannot import).
    init(waitStatus status: Int32) {
        let signal = status & 0x7f
        self = signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
    }
}
