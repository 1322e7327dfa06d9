/// Runs `body` with the journal's `run()` beside it, and stops that once `body` is done: for
/// tools and tests that use a journal without the process's service group.
package func withRunningJournal<T: Sendable>(
    _ journal: JobJournal, _ body: () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await journal.run() }
        do {
            let result = try await body()
            group.cancelAll()
            return result
        } catch {
            group.cancelAll()
            throw error
        }
    }
}

/// Runs `body` with the broker's `run()` beside it (its jobs and its journal's commits), and
/// stops the broker gracefully once `body` is done (`Broker.shutdown`): for tools and tests
/// that use a broker without the process's service group.
package func withRunningBroker<T: Sendable>(
    _ broker: Broker, _ body: () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await broker.run() }
        do {
            let result = try await body()
            await broker.shutdown()
            return result
        } catch {
            await broker.shutdown()
            throw error
        }
    }
}
