#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A job forked by a warm parent: its pid once the child is set up, and how it ended (the
/// parent reaps it and reports the status). What `ChildProcess` is for a job spawned cold.
final class WarmJob: Sendable {
    let id: Int
    let parent: WarmParent

    enum Start: Sendable {
        case started(pid_t)
        case failed(String)
    }

    enum End: Sendable, Hashable {
        case process(ChildTermination)
        /// The parent died before reporting the child's end; the child got SIGKILL with it.
        case parentDied(String)
        /// The child could not take the job's files, directory or environment, and ran nothing.
        case setupFailed(String)
    }

    private let starting = OneTimeValue<Start>()
    private let ending = OneTimeValue<End>()

    init(id: Int, parent: WarmParent) {
        self.id = id
        self.parent = parent
    }

    /// The child's pid once it is set up, or why it could not be.
    func started() async -> Start { await starting.value() }

    /// How it ended, or nil if `deadline` passes first. Not cancellable (as `ChildProcess`).
    func end(before deadline: ContinuousClock.Instant?) async -> End? { await ending.value(before: deadline) }

    func end() async -> End { await ending.value() }

    var hasEnded: Bool { ending.current != nil }

    func started(_ pid: pid_t) { resolveStart(.started(pid)) }

    func failedToStart(_ error: String) { resolveStart(.failed(error)) }

    private func resolveStart(_ start: Start) { starting.set(start) }

    func ended(_ end: End) {
        if case .parentDied(let reason) = end { resolveStart(.failed("the warm parent died: \(reason)")) }
        ending.set(end)
    }
}
