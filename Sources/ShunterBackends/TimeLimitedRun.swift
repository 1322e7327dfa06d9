import Synchronization

/// How a run raced against its time limit ended.
enum TimeLimitedRun<Value: Sendable>: Sendable {
    case finished(Value)
    case timedOut

    /// Waits for `run`, which must return once `stop` has ended what it runs. When `timeout`
    /// passes first, `stop` ends the run and this returns `.timedOut` once `stop` is done. When
    /// the caller is cancelled, `stop` runs in an uncancelled task (so that it can itself wait
    /// for processes to go), and the cancellation is rethrown once it is done.
    ///
    /// No task group and no sleeping child task: the time limit is an entry in `Deadlines`, the
    /// cancel a handler, so a job that ends in time costs no thread wake-up for either.
    static func race(
        timeout: Duration?, run: @escaping @Sendable () async throws -> Value,
        stop: @escaping @Sendable () async -> Void
    ) async throws -> TimeLimitedRun<Value> {
        let stopping = Stopping(stop)
        let deadline = timeout.map { timeout in
            Deadlines.shared.schedule(at: .now.advanced(by: timeout)) { stopping.start(.timedOut) }
        }
        let result: Result<Value, any Error>
        do {
            result = .success(
                try await withTaskCancellationHandler {
                    try await run()
                } onCancel: {
                    stopping.start(.cancelled)
                })
        } catch {
            result = .failure(error)
        }
        if let deadline { Deadlines.shared.cancel(deadline) }
        switch await stopping.finish() {
        case nil: return .finished(try result.get())
        case .timedOut: return .timedOut
        case .cancelled: throw CancellationError()
        }
    }
}

/// Starts `stop` at most once, in an unstructured (uncancelled) task, and remembers why.
private final class Stopping: Sendable {
    enum Reason: Sendable { case timedOut, cancelled }

    private let stop: @Sendable () async -> Void
    private let state = Mutex<(reason: Reason, task: Task<Void, Never>)?>(nil)

    init(_ stop: @escaping @Sendable () async -> Void) {
        self.stop = stop
    }

    func start(_ reason: Reason) {
        state.withLock { state in
            guard state == nil else { return }
            state = (reason, Task { [stop] in await stop() })
        }
    }

    /// Why the run was stopped (nil: it was not), once the stop is done. A stop started after
    /// the run ended still counts: the limit passed, or the caller cancelled, before it was seen.
    func finish() async -> Reason? {
        guard let (reason, task) = state.withLock({ $0 }) else { return nil }
        await task.value
        return reason
    }
}
