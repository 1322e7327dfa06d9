import ShunterBroker
import ShunterCore

/// What the job routes (`/run-transformation`, `/jobs`, `/status` …) ask of the broker, and
/// nothing more: the routes depend on this, not on the `Broker` actor, so that they can be
/// exercised in process over any implementation and so that the broker's internals can change
/// without touching the HTTP layer.
///
/// Errors thrown are answered by `ShunterHTTPError.status(of:)`: `AdmissionRefusal` 400 or 422,
/// `BrokerError.unknownJob` 404, `BrokerError.shuttingDown` 503, a full disk 507, anything
/// else 500.
package protocol JobService: Sendable {
    /// Answers a transformation (from the cache, by joining the job running it or by a new
    /// job) and returns when it is done.
    func run(_ transformation: Transformation) async throws -> JobOutcome
    /// Accepts a transformation without waiting for it; with `durable`, a `.job` answer means
    /// the job is journaled so that it runs even after a crash.
    func submit(_ transformation: Transformation, durable: Bool) async throws -> Submission
    /// Waits for a job to end; throws `BrokerError.unknownJob` for a job it does not know.
    /// Cancelling the waiting task stops the wait, not the job.
    func wait(_ id: JobID) async throws -> JobOutcome
    /// Cancels a job; false when it had already ended (or was already being cancelled).
    func cancel(_ id: JobID) async -> Bool
    /// Cancels the job running a transformation; false when none runs it.
    func cancel(transformation: Checksum) async -> Bool
    /// One job's record, nil for a job it does not know.
    func record(_ id: JobID) async throws -> JobRecord?
    /// Job records matching `filter`, newest first, at most `filter.limit`.
    func list(_ filter: JobFilter) async throws -> [JobRecord]
    /// The live job for a transformation, if one runs it now.
    func activeJob(for transformation: Checksum) async -> JobRecord?
    /// How many jobs are queued and running, per handler.
    func load() async -> (queued: Int, running: [String: Int])

    /// The journal's counters and its jobs by state, for `GET /status`.
    func journalStatistics() async throws -> JournalStatistics
}

extension Broker: JobService {}
