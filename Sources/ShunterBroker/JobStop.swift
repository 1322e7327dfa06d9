import Synchronization

/// One running job's end, or the request to cancel it, whichever comes first: its child in the
/// broker's task group waits on it, and cancels the execution when it is a cancel request
/// (a task group's child cannot be cancelled alone from outside).
final class JobStop: Sendable {
    private struct State {
        var fired = false
        var cancelRequested = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    /// The job's cancellation was asked for (`Broker.cancel`, a stop of the broker).
    var cancelRequested: Bool { state.withLock { $0.cancelRequested } }

    func cancel() { fire(cancel: true) }

    /// The execution has ended by itself.
    func executionEnded() { fire(cancel: false) }

    /// Returns once the job ended or its cancellation was asked for.
    func wait() async {
        await withCheckedContinuation { continuation in
            let fired = state.withLock { state in
                if !state.fired { state.waiter = continuation }
                return state.fired
            }
            if fired { continuation.resume() }
        }
    }

    private func fire(cancel: Bool) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if cancel { state.cancelRequested = true }
            state.fired = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }
}
