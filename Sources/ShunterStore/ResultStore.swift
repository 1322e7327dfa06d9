import ShunterCore

/// The result cache: transformation checksum → result checksum.
///
/// Implementations: `SQLiteResultStore` (embedded; it also answers the seamless-database
/// routes) and `RemoteResultStore` (an external seamless-database over HTTP). A hit here is
/// what lets the broker answer a repeated transformation without running anything.
package protocol ResultStore: Sendable {
    func result(for transformation: Checksum) async throws -> Checksum?

    /// Records a result. `record` is the execution record (handler, timings, host) that a
    /// user can later ask for; stores that cannot keep it drop it.
    func setResult(_ result: Checksum, for transformation: Checksum, record: ExecutionRecord?) async throws

    /// Writes what `setResult` may have held back for a later commit (at a graceful stop).
    func commitPending() async throws
}

extension ResultStore {
    /// For stores whose `setResult` has written everything by the time it returns.
    package func commitPending() async throws {}
}

/// What is known about one execution, kept beside the cached result.
package struct ExecutionRecord: Sendable, Codable, Hashable {
    package var jobID: String
    package var handler: String
    package var startedAt: Double
    package var finishedAt: Double
    package var wallTimeSeconds: Double
    package var hostname: String

    package init(
        jobID: String, handler: String, startedAt: Double, finishedAt: Double,
        wallTimeSeconds: Double, hostname: String
    ) {
        self.jobID = jobID
        self.handler = handler
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.wallTimeSeconds = wallTimeSeconds
        self.hostname = hostname
    }
}
