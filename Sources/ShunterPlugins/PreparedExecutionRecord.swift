import Foundation
import ShunterBackends
import ShunterCore
import ShunterEnvironments
import ShunterHandlers

/// The `Execution` a plugin prepared, kept as `execution.json` in the job's directory (beside
/// `work/`, so the job never sees it). After a broker restart, a plugin re-attaching to a job
/// that is still running (a Slurm job) reads it back instead of preparing again: the pins are
/// not read, nothing in the directory changes, and the command is exactly the one submitted.
package enum PreparedExecutionRecord {
    package static let fileName = "execution.json"

    private struct Stored: Codable {
        var jobID: String
        var handler: String
        var workDirectory: String
        var command: [String]
        var environment: [String: String]
        var image: String?
        var timeoutSeconds: Double?
        var cores: Int?
        var memoryBytes: Int64?
        var walltimeSeconds: Double?
        var gpus: Int?
        var partition: String?
        var account: String?
        var qos: String?
        var extraDirectives: [String]
        var stdoutPath: String
        var stderrPath: String
    }

    /// The execution a plugin's `prepare` hands to the backend, recorded in the job directory
    /// for `reattach` when the backend can re-attach (`JobContext.recordsExecution`): the resources come from the transformation's `__meta__` (the backend adds
    /// its handler's defaults for what is not asked).
    static func prepare(
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
        if job.recordsExecution { try write(execution, jobDirectory: directory.path) }
        return execution
    }

    /// What `prepare` recorded, for a job re-attached after a restart, with its conda
    /// environment leased again (the prefix is in the recorded `CONDA_PREFIX`).
    static func reattach(_ job: JobContext, workDirectory: String) async throws -> PreparedJob {
        let execution = try read(jobDirectory: workDirectory, jobID: job.jobID)
        var environment: ReadyEnvironment?
        if let prefix = execution.environment["CONDA_PREFIX"], let store = job.environments {
            environment = await store.lease(prefix: prefix)
        }
        return PreparedJob(execution: execution, workDirectory: workDirectory, environment: environment)
    }

    package static func write(_ execution: Execution, jobDirectory: String) throws {
        let r = execution.resources
        let stored = Stored(
            jobID: execution.jobID, handler: execution.handler, workDirectory: execution.workDirectory,
            command: execution.command, environment: execution.environment, image: execution.image,
            timeoutSeconds: execution.timeout.map(seconds), cores: r.cores, memoryBytes: r.memoryBytes,
            walltimeSeconds: r.walltime.map(seconds), gpus: r.gpus, partition: r.partition, account: r.account,
            qos: r.qos,
            extraDirectives: r.extraDirectives, stdoutPath: execution.stdoutPath, stderrPath: execution.stderrPath)
        let path = jobDirectory + "/" + fileName
        do {
            // Written in place like the job's other files, not fsynced: a broker crash leaves it
            // whole (the kernel has it); after a power loss it may be missing, and then the
            // re-attach fails and the job runs again, which is what it is for.
            try WorkDirectory.writeFile([UInt8](JSONEncoder().encode(stored)), to: path)
        } catch let failure as JobFailure {
            throw failure
        } catch {
            throw JobFailure(.internalError, "cannot write \(path): \(error.localizedDescription)")
        }
    }

    /// The recorded execution of job `jobID`; throws when there is none or it belongs to another job.
    package static func read(jobDirectory: String, jobID: String) throws -> Execution {
        let path = jobDirectory + "/" + fileName
        let stored: Stored
        do {
            stored = try JSONDecoder().decode(Stored.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw JobFailure(.internalError, "cannot re-attach: no readable \(path) (\(error.localizedDescription))")
        }
        guard stored.jobID == jobID else {
            throw JobFailure(.internalError, "cannot re-attach: \(path) belongs to job \(stored.jobID), not \(jobID)")
        }
        return Execution(
            jobID: stored.jobID, handler: stored.handler, workDirectory: stored.workDirectory, command: stored.command,
            environment: stored.environment, image: stored.image, timeout: stored.timeoutSeconds.map(duration),
            resources: ResourceRequest(
                cores: stored.cores, memoryBytes: stored.memoryBytes, walltime: stored.walltimeSeconds.map(duration),
                gpus: stored.gpus, partition: stored.partition, account: stored.account, qos: stored.qos,
                extraDirectives: stored.extraDirectives),
            stdoutPath: stored.stdoutPath, stderrPath: stored.stderrPath)
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// The file sits in the job's directory, where the job could have rewritten it: a value
    /// out of range reads as the longest duration instead of trapping.
    private static func duration(_ seconds: Double) -> Duration {
        CheckedQuantity.duration(seconds: seconds) ?? CheckedQuantity.maximumDuration
    }
}
