/// How a run raced against its time limit ended.
enum TimeLimitedRun<Value: Sendable>: Sendable {
    case finished(Value)
    case timedOut

    /// Waits for `run` or for `timeout`, whichever comes first (without a timeout, only for
    /// `run` or cancellation). When the time runs out, `stop` ends the run before this returns.
    /// When the caller is cancelled, `stop` runs in an uncancelled task, so that it can itself
    /// wait for processes to go, and the cancellation is rethrown: the task group would
    /// otherwise wait for its `run` child, which waits for what `stop` ends.
    static func race(
        timeout: Duration?, run: @escaping @Sendable () async throws -> Value, stop: @escaping @Sendable () async -> Void
    ) async throws -> TimeLimitedRun<Value> {
        try await withThrowingTaskGroup(of: TimeLimitedRun<Value>.self) { tasks in
            tasks.addTask { .finished(try await run()) }
            tasks.addTask {
                try await Task.sleep(for: timeout ?? .seconds(100 * 365 * 86_400))
                return .timedOut
            }
            do {
                let first = try await tasks.next()!
                if case .timedOut = first { await stop() }
                tasks.cancelAll()
                return first
            } catch {
                await Task { await stop() }.value
                throw error
            }
        }
    }
}
