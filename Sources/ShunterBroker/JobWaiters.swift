import Synchronization

/// The callers waiting for a job's end, by the token the broker's state machine knows them
/// by. Behind a lock rather than in the broker actor: a waiter's cancellation handler runs
/// synchronously, outside the actor, and answers its waiter here at once.
final class JobWaiters: Sendable {
    private struct State {
        var waiting: [Int: CheckedContinuation<JobOutcome, any Error>] = [:]
        /// Cancelled before their continuation was added.
        var cancelled: Set<Int> = []
    }

    private let state = Mutex(State())

    /// False when the waiter was cancelled already: the caller answers it with the cancellation.
    func add(_ token: Int, _ continuation: CheckedContinuation<JobOutcome, any Error>) -> Bool {
        state.withLock { state in
            if state.cancelled.contains(token) { return false }
            state.waiting[token] = continuation
            return true
        }
    }

    func answer(_ token: Int, with outcome: JobOutcome) {
        state.withLock { $0.waiting.removeValue(forKey: token) }?.resume(returning: outcome)
    }

    func cancel(_ token: Int) {
        let continuation = state.withLock { state in
            let continuation = state.waiting.removeValue(forKey: token)
            if continuation == nil { state.cancelled.insert(token) }
            return continuation
        }
        continuation?.resume(throwing: CancellationError())
    }

    /// Once the wait is over, however it ended.
    func forget(_ token: Int) {
        state.withLock { state in
            state.waiting[token] = nil
            state.cancelled.remove(token)
        }
    }
}
