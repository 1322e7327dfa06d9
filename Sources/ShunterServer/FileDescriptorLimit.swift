#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The process's limit on open files. Its soft limit is often 1024 while the hard limit allows
/// far more; a broker holding client connections, job processes' pipes, store files and
/// databases needs the room.
package enum FileDescriptorLimit {
    /// The soft and hard limits now; nil when they cannot be read.
    package static func current() -> (soft: UInt64, hard: UInt64)? {
        var limit = rlimit()
        #if os(Linux)
            guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        #else
            guard getrlimit(RLIMIT_NOFILE, &limit) == 0 else { return nil }
        #endif
        return (UInt64(limit.rlim_cur), UInt64(limit.rlim_max))
    }

    /// Raises the soft limit to the hard one; returns the soft limit in force afterwards.
    @discardableResult
    package static func raiseToHard() -> UInt64? {
        guard let (soft, hard) = current() else { return nil }
        guard soft < hard else { return soft }
        var raised = rlimit(rlim_cur: rlim_t(hard), rlim_max: rlim_t(hard))
        #if os(Linux)
            let status = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &raised)
        #else
            let status = setrlimit(RLIMIT_NOFILE, &raised)
        #endif
        return status == 0 ? hard : soft
    }
}
