import ShunterCore
import ShunterEnvironments

/// The parts of the broker config the broker itself reads.
package struct BrokerSettings: Sendable {
    package var hash: HashAlgorithm
    /// Root under which each job gets its work directory.
    package var workRoot: String
    /// How long a failed job's work directory is kept for inspection.
    package var keepFailedWorkDirectories: Duration
    /// How many bytes of a job's stdout and stderr the record keeps.
    package var outputTailBytes: Int
    /// Where jobs' conda environments are built; nil: jobs that ask for one fail.
    package var environments: EnvironmentStore?
    /// The largest result a job may store, in bytes.
    package var maxResultBytes: Int = 1 << 30
    /// A failed job's work directory taking more disk than this is removed at once.
    package var keepFailedWorkDirectoryMaxBytes: Int64 = 256 << 20
    /// A job recovery finds unfinished after this many runs fails instead of running again:
    /// its end could not be journaled (a full disk), so every start would run it again. Above
    /// `Broker.recoveryLimit`, which fails a job in flight at that many crashes in a row sooner
    /// and says so; this bound also counts runs ended by graceful restarts.
    package var maxAttempts: Int = Broker.recoveryLimit + 3

    package init(
        hash: HashAlgorithm = .sha256, workRoot: String, keepFailedWorkDirectories: Duration = .seconds(86_400),
        outputTailBytes: Int = 4096, environments: EnvironmentStore? = nil
    ) {
        self.hash = hash
        self.workRoot = workRoot
        self.keepFailedWorkDirectories = keepFailedWorkDirectories
        self.outputTailBytes = outputTailBytes
        self.environments = environments
    }
}
