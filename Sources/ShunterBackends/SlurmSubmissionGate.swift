/// Lets at most `limit` `sbatch` processes run at once, so that a burst of jobs reaches the
/// controller as a steady stream rather than hundreds of simultaneous RPCs. Waiters go in
/// arrival order.
actor SlurmSubmissionGate {
    private let limit: Int
    private var running = 0
    private var waiting: [(token: Int, continuation: CheckedContinuation<Void, any Error>)] = []
    private var nextToken = 0

    init(limit: Int) {
        self.limit = max(limit, 1)
    }

    func withPermit<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        try await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async throws {
        if running < limit {
            running += 1
            return
        }
        nextToken += 1
        let token = nextToken
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                } else {
                    waiting.append((token, continuation))
                }
            }
        } onCancel: {
            Task { await self.dropWaiter(token) }
        }
    }

    /// Hands the permit to the next waiter, if any (so `running` stays the same).
    private func release() {
        if waiting.isEmpty {
            running -= 1
        } else {
            waiting.removeFirst().continuation.resume()
        }
    }

    private func dropWaiter(_ token: Int) {
        guard let index = waiting.firstIndex(where: { $0.token == token }) else { return }
        waiting.remove(at: index).continuation.resume(throwing: CancellationError())
    }
}
