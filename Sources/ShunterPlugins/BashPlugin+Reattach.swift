import ShunterBackends
import ShunterCore
import ShunterHandlers

extension BashPlugin {
    /// Reads back what `prepare` recorded; the pins are not read again and no file changes.
    package func reattach(_ job: JobContext, workDirectory: String) async throws -> PreparedJob {
        try await PreparedExecutionRecord.reattach(job, workDirectory: workDirectory)
    }
}
