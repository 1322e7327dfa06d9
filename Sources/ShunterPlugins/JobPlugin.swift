import Logging
import ShunterBackends
import ShunterCore
import ShunterEnvironments
import ShunterHandlers
import ShunterStore

/// Turns a transformation into an `Execution` and, once the backend has run it, its output
/// into the result buffer. One type per kind of job (`BashPlugin`, `ContainerBashPlugin`,
/// `PythonPlugin`), listed in `JobPluginRegistry`.
package protocol JobPlugin: Sendable {
    /// Materialises the work directory (one file per pin, the code, ...) and returns the
    /// command to run. Throws `JobFailure` for a job that can never run (a missing input).
    func prepare(_ job: JobContext) async throws -> PreparedJob

    /// Reads what the execution left and returns the result buffer, serialized for the
    /// output celltype. Throws `JobFailure` with the error text Seamless would show.
    func collect(_ job: JobContext, prepared: PreparedJob, outcome: ExecutionOutcome) async throws -> [UInt8]

    /// What the broker calls: collects the result and stores it in `job.buffers`, returning its
    /// checksum. Default: `collect`, then `put`. A plugin whose result is a file as it is
    /// (a bash `bytes` result) streams it into the store instead of reading it whole.
    func storeResult(_ job: JobContext, prepared: PreparedJob, outcome: ExecutionOutcome) async throws -> Checksum

    /// Rebuilds the prepared job of an execution that outlived a broker restart (a Slurm job),
    /// from the work directory `prepare` left, without changing any file. Throws when the plugin
    /// cannot (the default); the broker then abandons the execution and runs the job again.
    func reattach(_ job: JobContext, workDirectory: String) async throws -> PreparedJob
}

extension JobPlugin {
    package func storeResult(_ job: JobContext, prepared: PreparedJob, outcome: ExecutionOutcome) async throws
        -> Checksum
    {
        try await job.buffers.put(collect(job, prepared: prepared, outcome: outcome), expected: nil)
    }

    package func reattach(_ job: JobContext, workDirectory: String) async throws -> PreparedJob {
        throw JobFailure(.internalError, "the \(Self.self) plugin cannot re-attach to a job started before a restart")
    }
}

/// Everything a plugin may use to prepare and collect one job.
package struct JobContext: Sendable {
    package var jobID: String
    package var transformation: Transformation
    /// The decoded `__env__`, if the transformation has one.
    package var environment: TransformationEnvironment?
    package var handler: HandlerConfig
    package var buffers: any BufferStore
    /// The directory under which this job's work directory is created.
    package var workRoot: String
    /// Where the conda environments a job asks for are built; nil when the broker has none.
    package var environments: EnvironmentStore?
    /// Whether the job's backend can re-attach to it after a restart (`RecoveryModel.reattach`):
    /// only then does `prepare` record the execution for `reattach` (a file per job saved
    /// for every local job).
    package var recordsExecution: Bool = true
    /// Whether the job's command should leave its exit status in the job directory
    /// (`WorkDirectory.exitStatusPath`) when it ends: for a backend whose processes outlive a
    /// killed broker (the local one), so that recovery collects a job that finished while the
    /// broker was down instead of running it a second time. A plugin that cannot have its
    /// command write it ignores this; its jobs then run again after a crash.
    package var recordsExitStatus: Bool = false
    /// The largest result the job may produce, in bytes (the broker's `max_result_size`): a
    /// larger one fails the job before it is read.
    package var maxResultBytes: Int = JobContext.defaultMaxResultBytes
    package static let defaultMaxResultBytes = 1 << 30
    package var logger: Logger

    package init(
        jobID: String, transformation: Transformation, environment: TransformationEnvironment?,
        handler: HandlerConfig, buffers: any BufferStore, workRoot: String, environments: EnvironmentStore? = nil,
        logger: Logger
    ) {
        self.jobID = jobID
        self.transformation = transformation
        self.environment = environment
        self.handler = handler
        self.buffers = buffers
        self.workRoot = workRoot
        self.environments = environments
        self.logger = logger
    }
}

/// A job ready to hand to a backend.
package struct PreparedJob: Sendable {
    package var execution: Execution
    /// Removed after success; kept for a while after failure so a user can look inside.
    package var workDirectory: String
    /// The conda environment the job runs in, leased until the job is dropped.
    package var environment: ReadyEnvironment?

    package init(execution: Execution, workDirectory: String, environment: ReadyEnvironment? = nil) {
        self.execution = execution
        self.workDirectory = workDirectory
        self.environment = environment
    }
}

/// A job that ran (or could not) and has no result. `message` is what the client sees, in the
/// shape Seamless gives its own errors.
package struct JobFailure: Error, Sendable, CustomStringConvertible {
    package enum Kind: String, Sendable {
        case badInput
        case nonZeroExit
        case signaled
        case timedOut
        case missingResult
        case badResult
        /// The conda environment the job asked for is unknown, malformed or cannot be built.
        case environmentUnavailable
        case internalError
    }

    package var kind: Kind
    package var message: String

    package init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    package var description: String { message }
}

/// Builds plugins from handler configs; one per plugin kind, listed in `JobPluginRegistry`.
///
/// Building and starting are apart so that `shunter check` can build every plugin exactly as
/// `serve` does, and so refuse the same option values, without starting anything.
package struct JobPluginDescriptor: Sendable {
    package var component: ComponentCatalog.Component
    /// Reads the handler's option section into a plugin; a refused value is a `ConfigError` at
    /// its place. Starts nothing, creates nothing.
    package var build: @Sendable (_ handler: HandlerConfig) throws -> any JobPlugin
    /// What a running broker does with a plugin it built (a warm interpreter started with the
    /// broker, a check of the interpreter in the background); nil when nothing.
    package var start: (@Sendable (_ plugin: any JobPlugin, _ handler: HandlerConfig) -> Void)?

    package init(
        component: ComponentCatalog.Component,
        build: @escaping @Sendable (_ handler: HandlerConfig) throws -> any JobPlugin,
        start: (@Sendable (_ plugin: any JobPlugin, _ handler: HandlerConfig) -> Void)? = nil
    ) {
        self.component = component
        self.build = build
        self.start = start
    }

    package var name: String { component.name }

    /// The plugin of a running broker: built, then started.
    package func make(_ handler: HandlerConfig) throws -> any JobPlugin {
        let plugin = try build(handler)
        start?(plugin, handler)
        return plugin
    }
}
