import ShunterBackends
import ShunterCore
import ShunterHandlers

extension BashPlugin {
    /// The execution `prepare` hands to the backend: the resources come from the
    /// transformation's `__meta__` (the backend adds its handler's defaults for what is not
    /// asked), and the whole execution is recorded in the job directory for `reattach`.
    func recordedExecution(
        _ job: JobContext, directory: WorkDirectory, command: [String], environment: [String: String]
    ) throws -> Execution {
        let resources: ResourceRequest
        do {
            resources = try ResourceRequest(meta: job.transformation.meta, defaults: ResourceRequest())
        } catch {
            throw JobFailure(.badInput, "\(error)")
        }
        let execution = Execution(
            jobID: job.jobID, handler: job.handler.name, workDirectory: directory.workPath,
            command: command, environment: environment, timeout: job.handler.limits.timeout,
            resources: resources, stdoutPath: directory.stdoutPath, stderrPath: directory.stderrPath)
        try PreparedExecutionRecord.write(execution, jobDirectory: directory.path)
        return execution
    }

    /// Reads back what `prepare` recorded; the pins are not read again and no file changes.
    public func reattach(_ job: JobContext, workDirectory: String) async throws -> PreparedJob {
        let execution = try PreparedExecutionRecord.read(jobDirectory: workDirectory, jobID: job.jobID)
        return PreparedJob(execution: execution, workDirectory: workDirectory)
    }
}
