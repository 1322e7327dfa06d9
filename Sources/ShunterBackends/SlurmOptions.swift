import ShunterHandlers

/// The `slurm:` section of a handler: default resources of its jobs and how the broker talks to
/// the controller.
package struct SlurmOptions: Sendable, Hashable {
    /// Resources every job of the handler asks for, unless its `__meta__` says otherwise.
    package var defaults: ResourceRequest
    /// Time between two `squeue` calls (one call covers every job of the handler).
    package var pollInterval: Duration
    /// Ceiling of the back-off when Slurm is slow or down: the interval doubles up to this.
    package var maxPollInterval: Duration
    /// `sbatch` processes running at once; more submissions wait their turn.
    package var submitConcurrency: Int
    /// How long one Slurm command may take before it is killed and counted as a failure.
    package var commandTimeout: Duration
    /// Whether `sacct` is asked about jobs `squeue` no longer lists; nil = find out once.
    package var accounting: Bool?
    /// Directory holding `sbatch`, `squeue`, `sacct`, `scancel`; nil = the broker's `PATH`.
    package var binDirectory: String?
    /// How long to wait for a finished job's exit marker to appear (a shared file system may
    /// show the compute node's files late).
    package var markerWait: Duration
    /// How a job that names a container image runs inside its batch job: `apptainer exec` with
    /// these settings (the image directory must be visible to the compute nodes). nil: such a
    /// job fails, saying the handler has no `slurm.container`.
    package var container: ApptainerBackend.Settings?

    package init(
        defaults: ResourceRequest = ResourceRequest(), pollInterval: Duration = .seconds(5),
        maxPollInterval: Duration = .seconds(60), submitConcurrency: Int = 4, commandTimeout: Duration = .seconds(60),
        accounting: Bool? = nil, binDirectory: String? = nil, markerWait: Duration = .seconds(30)
    ) {
        self.defaults = defaults
        self.pollInterval = pollInterval
        self.maxPollInterval = maxPollInterval
        self.submitConcurrency = submitConcurrency
        self.commandTimeout = commandTimeout
        self.accounting = accounting
        self.binDirectory = binDirectory
        self.markerWait = markerWait
    }

    package static let keys: [String: String] = [
        "partition": "default partition (sbatch --partition); __meta__ partition overrides it",
        "account": "default account (sbatch --account); __meta__ account overrides it",
        "qos": "default quality of service (sbatch --qos); __meta__ qos overrides it",
        "cores": "default CPUs per job (sbatch --cpus-per-task); __meta__ ncores overrides it",
        "memory": "default memory per job, e.g. 2G (sbatch --mem); __meta__ memory overrides it",
        "walltime": "default time limit, e.g. 1h (sbatch --time); __meta__ walltime overrides it, "
            + "limits.timeout caps it",
        "gpus": "default GPUs per job (sbatch --gpus); __meta__ gpus overrides it",
        "sbatch": "list of extra sbatch options for every job, e.g. [--constraint=avx2]",
        "poll_interval": "time between two squeue calls, one for all jobs (default 5s)",
        "max_poll_interval": "longest interval when backing off from a slow or unreachable controller (default 60s)",
        "submit_concurrency": "sbatch calls running at once (default 4)",
        "command_timeout": "time after which a hanging Slurm command is killed (default 60s)",
        "accounting": "true: ask sacct about jobs squeue forgot; false: never; default: detect once",
        "bin_dir": "directory of sbatch, squeue, sacct and scancel (default: the broker's PATH)",
        "marker_wait": "how long to wait for a finished job's exit marker on a slow shared file system (default 30s)",
        "container": "how jobs with a container image run in the batch job: {runtime: apptainer, image_dir: DIR, "
            + "executable: apptainer, containall: true, no_privs: true} (image_dir shared with the nodes)",
    ]

    static let containerKeys = ["runtime", "image_dir", "executable", "containall", "no_privs"]

    /// Reads a handler's `slurm:` section.
    package init(handler: HandlerConfig) throws(ConfigError) {
        self.init()
        let options = try OptionReader(section: "slurm", of: handler, accepted: Self.keys.keys)
        defaults.partition = try options.string("partition")
        defaults.account = try options.string("account")
        defaults.qos = try options.string("qos")
        defaults.cores = try options.int("cores", atLeast: 1)
        defaults.memoryBytes = try options.size("memory")
        defaults.walltime = try options.duration("walltime")
        defaults.gpus = try options.int("gpus", atLeast: 0)
        if let lines = try options.stringList("sbatch") {
            for line in lines where !line.hasPrefix("-") {
                throw ConfigError(
                    "'slurm.sbatch' entries are sbatch options such as --constraint=avx2, got '\(line)'",
                    at: options.location(of: "sbatch"))
            }
            defaults.extraDirectives = lines
        }
        pollInterval = try options.duration("poll_interval", positive: true) ?? pollInterval
        maxPollInterval = try options.duration("max_poll_interval", positive: true) ?? maxPollInterval
        submitConcurrency = try options.int("submit_concurrency", atLeast: 1) ?? submitConcurrency
        commandTimeout = try options.duration("command_timeout", positive: true) ?? commandTimeout
        accounting = try options.bool("accounting")
        binDirectory = try options.string("bin_dir")
        markerWait = try options.duration("marker_wait") ?? markerWait
        container = try options.section("container", accepted: Self.containerKeys).map(Self.container)
        if maxPollInterval < pollInterval { maxPollInterval = pollInterval }
    }

    /// The container runtimes `slurm.container.runtime` accepts.
    enum ContainerRuntime: String, CaseIterable {
        case apptainer
        case singularity
    }

    private static func container(_ options: OptionReader) throws(ConfigError) -> ApptainerBackend.Settings {
        var settings = ApptainerBackend.Settings()
        let runtime = try options.choice("runtime", as: ContainerRuntime.self)
        settings.imageDirectory = try options.string("image_dir") ?? settings.imageDirectory
        settings.executable = try options.string("executable") ?? runtime?.rawValue ?? settings.executable
        settings.containAll = try options.bool("containall") ?? settings.containAll
        settings.noPrivileges = try options.bool("no_privs") ?? settings.noPrivileges
        return settings
    }
}
