import Foundation
import ShunterBroker
import ShunterCore
import ShunterServer

/// A fake job service, for the HTTP layer's sake only: the tests of the job routes choose with
/// it what the service answers (a refusal, a stopping broker, a full disk, an internal failure)
/// without arranging a real broker into each of those states. The same routes are tested over
/// a real `Broker` in `JobRoutesBrokerTests`, and the broker itself in ShunterBrokerTests.
actor FakeJobService: JobService {
    private var records: [JobID: JobRecord] = [:]
    private var nextID: Int64 = 1
    private var waiters: [JobID: [Int: CheckedContinuation<JobOutcome, any Error>]] = [:]
    private var nextWaiter = 0
    /// Thrown by `run` and `submit`, as a broker refuses a transformation.
    private var refusal: (any Error)?
    /// Thrown by `record` and `list`, as a failing journal would.
    private var readFailure: (any Error)?
    private(set) var cancelled: [JobID] = []

    func refuse(with error: (any Error)?) { refusal = error }
    func failReads(with error: (any Error)?) { readFailure = error }

    /// Ends a job as its execution would, answering its waiters.
    func end(_ id: JobID, _ state: JobState, result: Checksum? = nil, error: String? = nil) {
        guard var record = records[id] else { return }
        record.state = state
        record.result = result
        record.error = error
        record.finishedAt = record.createdAt + 1
        records[id] = record
        let outcome = Self.outcome(of: record)!
        for waiter in (waiters.removeValue(forKey: id) ?? [:]).values { waiter.resume(returning: outcome) }
    }

    /// What a waiter hears of an ended job; nil while it runs.
    private static func outcome(of record: JobRecord) -> JobOutcome? {
        var outcome = JobOutcome.cached(record.transformation)
        switch record.state {
        case .succeeded: outcome.status = .succeeded
        case .failed: outcome.status = .failed
        case .cancelled: outcome.status = .cancelled
        default: return nil
        }
        outcome.result = record.result
        outcome.error = record.error
        outcome.record = record
        return outcome
    }

    /// How many requests wait on `id` now.
    func waiting(on id: JobID) -> Int { waiters[id]?.count ?? 0 }

    // MARK: - JobService

    func run(_ transformation: Transformation) async throws -> JobOutcome {
        if let refusal { throw refusal }
        return .cached(transformation.checksum)
    }

    func submit(_ transformation: Transformation, durable: Bool) async throws -> Submission {
        if let refusal { throw refusal }
        let id = JobID(nextID)
        nextID += 1
        records[id] = JobRecord(
            id: id, transformation: transformation.checksum, state: .queued, language: transformation.language,
            createdAt: Double(id.rawValue))
        return .job(id)
    }

    func wait(_ id: JobID) async throws -> JobOutcome {
        guard let record = records[id] else { throw BrokerError.unknownJob(id) }
        if let outcome = Self.outcome(of: record) { return outcome }
        nextWaiter += 1
        let token = nextWaiter
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                } else {
                    waiters[id, default: [:]][token] = continuation
                }
            }
        } onCancel: {
            Task { await self.dropWaiter(id, token) }
        }
    }

    private func dropWaiter(_ id: JobID, _ token: Int) {
        waiters[id]?.removeValue(forKey: token)?.resume(throwing: CancellationError())
    }

    func cancel(_ id: JobID) async -> Bool {
        guard let record = records[id], !record.state.isTerminal else { return false }
        cancelled.append(id)
        end(id, .cancelled, error: "cancelled before it started")
        return true
    }

    func cancel(transformation: Checksum) async -> Bool {
        guard let record = await activeJob(for: transformation) else { return false }
        return await cancel(record.id)
    }

    func record(_ id: JobID) async throws -> JobRecord? {
        if let readFailure { throw readFailure }
        return records[id]
    }

    func list(_ filter: JobFilter) async throws -> [JobRecord] {
        if let readFailure { throw readFailure }
        return Array(records.values.filter(filter.matches).sorted { $0.id > $1.id }.prefix(filter.limit))
    }

    func activeJob(for transformation: Checksum) async -> JobRecord? {
        records.values.first { $0.transformation == transformation && !$0.state.isTerminal }
    }

    func journalStatistics() async throws -> JournalStatistics {
        JournalStatistics(
            syncedCommits: 0, writtenRows: 0, lostWrites: 0, synchronous: "full", autocheckpointPages: 1000,
            jobsByState: [:])
    }

    func load() async -> (queued: Int, running: [String: Int]) {
        (records.values.filter { $0.state == .queued }.count, ["fake": 0])
    }
}
