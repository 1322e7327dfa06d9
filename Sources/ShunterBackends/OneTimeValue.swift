import Synchronization

/// A value that arrives once (how a process ended, whether a forked job started), and the
/// tasks waiting for it, each until the value comes or its own deadline passes.
///
/// Waiting is not cancellable: the callers that stop a job wait for its end uncancelled.
final class OneTimeValue<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var waiters: [Int: CheckedContinuation<Value?, Never>] = [:]
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    init() {}

    /// The value, if it has arrived.
    var current: Value? { state.withLock { $0.value } }

    /// The value once it arrives.
    func value() async -> Value {
        // Without a deadline the answer is never nil.
        await value(before: nil)!
    }

    /// The value, or nil if `deadline` passes first.
    func value(before deadline: ContinuousClock.Instant?) async -> Value? {
        await withCheckedContinuation { continuation in
            var waiter = 0
            let known = state.withLock { state -> Value? in
                if let value = state.value { return value }
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
            // If the value comes first, the entry finds no waiter at its deadline; only stops
            // (timeouts, cancels) use deadlines, so the few seconds it lingers cost nothing.
            _ = Deadlines.shared.schedule(at: deadline) { [self, waiter] in
                let expired = state.withLock { $0.waiters.removeValue(forKey: waiter) }
                expired?.resume(returning: nil)
            }
        }
    }

    /// Sets the value and wakes every waiter. Only the first call counts: false for a later one.
    @discardableResult
    func set(_ value: Value) -> Bool {
        let waiters = state.withLock { state -> [CheckedContinuation<Value?, Never>]? in
            guard state.value == nil else { return nil }
            state.value = value
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        guard let waiters else { return false }
        for waiter in waiters { waiter.resume(returning: value) }
        return true
    }
}
