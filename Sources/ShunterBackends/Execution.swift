import ShunterCore

/// One command to run, as a job plugin prepared it.
package struct Execution: Sendable {
    package var jobID: String
    /// Handler name, for logs and for backends that label what they start.
    package var handler: String
    /// The directory the command runs in; it holds the inputs and receives `RESULT`.
    package var workDirectory: String
    /// argv; `command[0]` is looked up in `PATH` unless it contains a slash.
    package var command: [String]
    /// The command's whole environment: nothing is inherited that is not listed here.
    package var environment: [String: String]
    /// A container image, for container backends.
    package var image: String?
    package var timeout: Duration?
    package var resources: ResourceRequest
    /// Where standard output and standard error go (files, so that large output never sits in
    /// the broker's memory).
    package var stdoutPath: String
    package var stderrPath: String
    /// Start the job forked from a warm parent (local backend only; others run `command`).
    package var warmStart: WarmStart?

    package init(
        jobID: String, handler: String, workDirectory: String, command: [String],
        environment: [String: String], image: String? = nil, timeout: Duration? = nil,
        resources: ResourceRequest = ResourceRequest(), stdoutPath: String, stderrPath: String,
        warmStart: WarmStart? = nil
    ) {
        self.jobID = jobID
        self.handler = handler
        self.workDirectory = workDirectory
        self.command = command
        self.environment = environment
        self.image = image
        self.timeout = timeout
        self.resources = resources
        self.stdoutPath = stdoutPath
        self.stderrPath = stderrPath
        self.warmStart = warmStart
    }
}

/// Resources a job asks for (from `__meta__` and the handler's defaults).
package struct ResourceRequest: Sendable, Hashable {
    package var cores: Int?
    package var memoryBytes: Int64?
    package var walltime: Duration?
    package var gpus: Int?
    /// Batch-scheduler placement (Slurm's `--partition`, `--account`, `--qos`); other backends
    /// ignore them.
    package var partition: String?
    package var account: String?
    package var qos: String?
    /// Free scheduler directives, one option each (`--constraint=avx2`), for what has no field.
    package var extraDirectives: [String]

    package init(
        cores: Int? = nil, memoryBytes: Int64? = nil, walltime: Duration? = nil, gpus: Int? = nil,
        partition: String? = nil, account: String? = nil, qos: String? = nil, extraDirectives: [String] = []
    ) {
        self.cores = cores
        self.memoryBytes = memoryBytes
        self.walltime = walltime
        self.gpus = gpus
        self.partition = partition
        self.account = account
        self.qos = qos
        self.extraDirectives = extraDirectives
    }
}

/// How an execution ended.
package struct ExecutionOutcome: Sendable, Hashable {
    package enum Termination: Sendable, Hashable {
        case exited(Int32)
        case signaled(Int32)
        /// Stopped by the backend because `Execution.timeout` ran out.
        case timedOut(Duration)
    }

    package var termination: Termination
    package var wallTime: Duration
    /// The backend's own id for the execution (a Slurm job id), if it has one.
    package var externalID: String?

    package init(termination: Termination, wallTime: Duration, externalID: String? = nil) {
        self.termination = termination
        self.wallTime = wallTime
        self.externalID = externalID
    }

    package var succeeded: Bool { termination == .exited(0) }
}
