import Synchronization

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

    private struct State {
        var start: Start?
        var startWaiters: [CheckedContinuation<Start, Never>] = []
        var end: End?
        var waiters: [Int: CheckedContinuation<End?, Never>] = [:]
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    init(id: Int, parent: WarmParent) {
        self.id = id
        self.parent = parent
    }

    /// The child's pid once it is set up, or why it could not be.
    func started() async -> Start {
        await withCheckedContinuation { continuation in
            let known = state.withLock { state -> Start? in
                if let start = state.start { return start }
                state.startWaiters.append(continuation)
                return nil
            }
            if let known { continuation.resume(returning: known) }
        }
    }

    /// How it ended, or nil if `deadline` passes first. Not cancellable (as `ChildProcess`).
    func end(before deadline: ContinuousClock.Instant?) async -> End? {
        await withCheckedContinuation { continuation in
            var waiter = 0
            let known = state.withLock { state -> End? in
                if let end = state.end { return end }
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
            _ = Deadlines.shared.schedule(at: deadline) { [self, waiter] in
                let expired = state.withLock { $0.waiters.removeValue(forKey: waiter) }
                expired?.resume(returning: nil)
            }
        }
    }

    func end() async -> End { await end(before: nil)! }

    var hasEnded: Bool { state.withLock { $0.end != nil } }

    func started(_ pid: pid_t) { resolveStart(.started(pid)) }

    func failedToStart(_ error: String) { resolveStart(.failed(error)) }

    private func resolveStart(_ start: Start) {
        let waiters = state.withLock { state -> [CheckedContinuation<Start, Never>] in
            guard state.start == nil else { return [] }
            state.start = start
            defer { state.startWaiters = [] }
            return state.startWaiters
        }
        for waiter in waiters { waiter.resume(returning: start) }
    }

    func ended(_ end: End) {
        if case .parentDied(let reason) = end { resolveStart(.failed("the warm parent died: \(reason)")) }
        let waiters = state.withLock { state -> [CheckedContinuation<End?, Never>] in
            guard state.end == nil else { return [] }
            state.end = end
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: end) }
    }
}
