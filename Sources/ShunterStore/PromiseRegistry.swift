import ShunterCore

/// Buffers that a client announced (`PUT /promise/{checksum}`) but has not uploaded yet.
///
/// Mirrors hashserver's `PromiseRegistry`: a promise lives for `timeToLive` (renewed when
/// promised again), counts as present for `has`, and makes a `get` of the absent buffer wait
/// for its arrival instead of answering "not found". A promise that is never kept only holds
/// up the readers of that one checksum, and only until it expires.
package actor PromiseRegistry {
    package enum WaitOutcome: Sendable, Equatable {
        /// The buffer was stored: read it again.
        case arrived
        /// Nothing was promised (or the promise was already kept before the wait began).
        case notPromised
        /// The promise expired before the buffer arrived.
        case expired
    }

    private struct Entry {
        var expiresAt: ContinuousClock.Instant
        var waiters: [UInt64: CheckedContinuation<WaitOutcome, Never>] = [:]
        var expiryTask: Task<Void, Never>?
    }

    package nonisolated let timeToLive: Duration
    private var entries: [Checksum: Entry] = [:]
    private var nextWaiterID: UInt64 = 0

    package init(timeToLive: Duration = .seconds(600)) {
        self.timeToLive = timeToLive
    }

    /// Registers (or renews) a promise; returns how long it is valid.
    @discardableResult
    package func add(_ checksum: Checksum) -> Duration {
        let expiresAt = ContinuousClock.now + timeToLive
        if entries[checksum] != nil {
            entries[checksum]!.expiresAt = expiresAt
        } else {
            var entry = Entry(expiresAt: expiresAt)
            entry.expiryTask = Task { [weak self] in
                await self?.runExpiry(of: checksum)
            }
            entries[checksum] = entry
        }
        return timeToLive
    }

    /// The buffer arrived: wakes every reader waiting for it.
    package func resolve(_ checksum: Checksum) {
        guard let entry = entries.removeValue(forKey: checksum) else { return }
        entry.expiryTask?.cancel()
        for waiter in entry.waiters.values { waiter.resume(returning: .arrived) }
    }

    /// How many readers wait for `checksum` now (tests wait for a reader to be registered).
    func waiterCount(of checksum: Checksum) -> Int {
        entries[checksum]?.waiters.count ?? 0
    }

    package func isPromised(_ checksum: Checksum) -> Bool {
        guard let entry = entries[checksum] else { return false }
        return entry.expiresAt > ContinuousClock.now
    }

    /// `isPromised` for many at once: one hop onto the actor instead of one per checksum.
    package func arePromised(_ checksums: [Checksum]) -> [Bool] {
        if entries.isEmpty { return checksums.map { _ in false } }
        let now = ContinuousClock.now
        return checksums.map { entries[$0].map { $0.expiresAt > now } ?? false }
    }

    /// Waits until the promised buffer arrives or the promise expires.
    package func waitForArrival(of checksum: Checksum) async -> WaitOutcome {
        guard let entry = entries[checksum] else { return .notPromised }
        guard entry.expiresAt > ContinuousClock.now else { return .expired }
        let waiterID = nextWaiterID
        nextWaiterID += 1
        return await withTaskCancellationHandler {
            // The registration runs on this actor before the cancellation task below can, so
            // a cancelled reader is always found and released.
            await withCheckedContinuation { (continuation: CheckedContinuation<WaitOutcome, Never>) in
                if entries[checksum] == nil {
                    continuation.resume(returning: .notPromised)
                } else {
                    entries[checksum]!.waiters[waiterID] = continuation
                }
            }
        } onCancel: {
            Task { await self.cancelWaiter(waiterID, of: checksum) }
        }
    }

    private func cancelWaiter(_ waiterID: UInt64, of checksum: Checksum) {
        entries[checksum]?.waiters.removeValue(forKey: waiterID)?.resume(returning: .notPromised)
    }

    /// Sleeps until the (possibly renewed) deadline, then fails the waiters.
    private func runExpiry(of checksum: Checksum) async {
        while let deadline = entries[checksum]?.expiresAt {
            if ContinuousClock.now >= deadline {
                guard let entry = entries.removeValue(forKey: checksum) else { return }
                for waiter in entry.waiters.values { waiter.resume(returning: .expired) }
                return
            }
            do {
                try await Task.sleep(until: deadline, clock: .continuous)
            } catch {
                return // resolved: the task was cancelled
            }
        }
    }
}

/// A store that keeps promises itself (as opposed to forwarding them to a remote server).
package protocol PromiseKeeping: Sendable {
    var promises: PromiseRegistry { get }
}

extension MemoryBufferStore: PromiseKeeping {}
extension FileBufferStore: PromiseKeeping {}

extension Duration {
    /// Seconds as a Double, for messages and JSON answers.
    var inSeconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
