import CShunterSpawn

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// What the broker process does to itself at start so that its jobs can neither read it nor
/// inherit what it holds (docs/security.md).
package enum BrokerProcessGuards {
    /// Makes the process non-dumpable: a job of the same user can then neither read
    /// /proc/<broker>/environ, mem or fd, nor ptrace the broker. The price: the Swift crash
    /// reporter, which reads a crashed process's memory the same way, gets nothing without
    /// CAP_SYS_PTRACE. Returns whether it took effect.
    @discardableResult
    package static func makeUndumpable() -> Bool { shunter_make_undumpable() == 0 }

    /// Whether this process is dumpable now (1), not (0), or unknown (-1, off Linux).
    package static var dumpable: Int32 { shunter_is_dumpable() }

    /// Marks every open descriptor close-on-exec now, and from now on at a crash too, before
    /// the runtime's crash handler may start a reporter: libraries (NIO's sockets and epoll
    /// sets among them) open descriptors without the flag, and a child started with one of
    /// them (the listening socket) kept the port after the broker was gone. Call at start,
    /// after the listening socket exists.
    package static func closeDescriptorsOnExec() {
        _ = shunter_cloexec_all()
    }

    /// Installs the crash-time sweep (`closeDescriptorsOnExec`); once, at start.
    package static func installCrashDescriptorGuard() {
        _ = shunter_install_crash_descriptor_guard()
    }

    /// Makes files and directories this process creates owner-only, and returns the umask it
    /// had, which local jobs keep (`LocalBackend.keepJobFileCreationMask`).
    package static func makeFilesOwnerOnly() -> mode_t {
        let previous = umask(0o077)
        LocalBackend.keepJobFileCreationMask(previous)
        return previous
    }
}
