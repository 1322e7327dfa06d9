import ShunterHandlers

/// The `slurm:` section of a handler: default resources of its jobs and how the broker talks to
/// the controller.
public struct SlurmOptions: Sendable, Hashable {
    /// Resources every job of the handler asks for, unless its `__meta__` says otherwise.
    public var defaults: ResourceRequest
    /// Time between two `squeue` calls (one call covers every job of the handler).
    public var pollInterval: Duration
    /// Ceiling of the back-off when Slurm is slow or down: the interval doubles up to this.
    public var maxPollInterval: Duration
    /// `sbatch` processes running at once; more submissions wait their turn.
    public var submitConcurrency: Int
    /// How long one Slurm command may take before it is killed and counted as a failure.
    public var commandTimeout: Duration
    /// Whether `sacct` is asked about jobs `squeue` no longer lists; nil = find out once.
    public var accounting: Bool?
    /// Directory holding `sbatch`, `squeue`, `sacct`, `scancel`; nil = the broker's `PATH`.
    public var binDirectory: String?
    /// How long to wait for a finished job's exit marker to appear (a shared file system may
    /// show the compute node's files late).
    public var markerWait: Duration
    /// How a job that names a container image runs inside its batch job: `apptainer exec` with
    /// these settings (the image directory must be visible to the compute nodes). nil: such a
    /// job fails, saying the handler has no `slurm.container`.
    public var container: ApptainerBackend.Settings?

    public init(
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

    public static let keys: [String: String] = [
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

    /// Reads a handler's `slurm:` section (keys are validated against `keys` by the handler loader).
    public init(handler: HandlerConfig) throws(ConfigError) {
        self.init()
        guard let section = handler.options["slurm"] else { return }
        if case .null = section { return }
        for (key, value) in try ConfigParsing.mapping(
            section, key: "slurm", accepted: Self.keys.keys.sorted(), context: "in the slurm section of handler '\(handler.name)'")
        {
            let name = "slurm.\(key)"
            switch key {
            case "partition": defaults.partition = try ConfigParsing.string(value, key: name)
            case "account": defaults.account = try ConfigParsing.string(value, key: name)
            case "qos": defaults.qos = try ConfigParsing.string(value, key: name)
            case "cores": defaults.cores = try ConfigParsing.int(value, key: name, minimum: 1)
            case "memory": defaults.memoryBytes = try ConfigParsing.byteSize(value, key: name)
            case "walltime": defaults.walltime = try ConfigParsing.duration(value, key: name)
            case "gpus": defaults.gpus = try ConfigParsing.int(value, key: name, minimum: 0)
            case "sbatch":
                let lines = try ConfigParsing.stringList(value, key: name)
                for line in lines where !line.hasPrefix("-") || line.contains("\n") {
                    throw ConfigError("'\(name)' entries are sbatch options such as --constraint=avx2, got '\(line)'", at: value.location)
                }
                defaults.extraDirectives = lines
            case "poll_interval": pollInterval = try Self.positive(value, key: name)
            case "max_poll_interval": maxPollInterval = try Self.positive(value, key: name)
            case "submit_concurrency": submitConcurrency = try ConfigParsing.int(value, key: name, minimum: 1)
            case "command_timeout": commandTimeout = try Self.positive(value, key: name)
            case "accounting": accounting = try ConfigParsing.bool(value, key: name)
            case "bin_dir": binDirectory = try ConfigParsing.string(value, key: name)
            case "marker_wait": markerWait = try ConfigParsing.duration(value, key: name)
            case "container": container = try Self.container(value, key: name)
            default: break
            }
        }
        if maxPollInterval < pollInterval { maxPollInterval = pollInterval }
    }

    private static func container(_ value: ConfigValue, key: String) throws(ConfigError) -> ApptainerBackend.Settings {
        var settings = ApptainerBackend.Settings()
        var runtime: String?
        for (entry, item) in try ConfigParsing.mapping(value, key: key, accepted: containerKeys, context: "in \(key)") {
            let name = "\(key).\(entry)"
            switch entry {
            case "runtime": runtime = try ConfigParsing.string(item, key: name)
            case "image_dir": settings.imageDirectory = try ConfigParsing.string(item, key: name)
            case "executable": settings.executable = try ConfigParsing.string(item, key: name)
            case "containall": settings.containAll = try ConfigParsing.bool(item, key: name)
            case "no_privs": settings.noPrivileges = try ConfigParsing.bool(item, key: name)
            default: break
            }
        }
        guard runtime == nil || runtime == "apptainer" || runtime == "singularity" else {
            throw ConfigError.notOneOf(
                "unknown container runtime '\(runtime!)' in \(key).runtime", written: runtime!,
                accepted: ["apptainer", "singularity"], kind: "runtimes", at: value.location)
        }
        if runtime == "singularity", settings.executable == "apptainer" { settings.executable = "singularity" }
        return settings
    }

    private static func positive(_ value: ConfigValue, key: String) throws(ConfigError) -> Duration {
        let duration = try ConfigParsing.duration(value, key: key)
        guard duration > .zero else { throw ConfigError("'\(key)' must be longer than 0s", at: value.location) }
        return duration
    }
}
