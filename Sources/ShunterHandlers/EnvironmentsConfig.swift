/// The `environments:` section of the broker config: where conda environments are defined,
/// built and kept, and with which tools.
package struct EnvironmentsConfig: Sendable, Hashable {
    package static let defaultManagers = ["venv", "micromamba", "mamba", "conda", "rattler"]

    /// The directory of `NAME.yml` definitions (`conda-envs/`).
    package var definitions: String
    /// Where environments are built. Jobs on Slurm run in them on other nodes: put it on the
    /// shared file system then.
    package var root: String
    /// The managers tried, in order; the first that can build a spec builds it.
    package var managers: [String]
    /// Channels for a spec that names none.
    package var channels: [String]
    /// Where a channel given by name points (`conda-forge` → `<alias>/conda-forge`).
    package var channelAlias: String
    /// An environment no job used for this long is removed (never while a job uses it).
    package var keepUnused: Duration
    /// A build running longer than this is stopped and fails.
    package var buildTimeout: Duration
    /// The Python with py-rattler, for the `rattler` manager.
    package var toolsPython: String
    /// Paths of `micromamba`, `mamba`, `conda` when they are not on `PATH`.
    package var executables: [String: String]

    package init(
        definitions: String, root: String, managers: [String] = Self.defaultManagers,
        channels: [String] = ["conda-forge"], channelAlias: String = "https://conda.anaconda.org",
        keepUnused: Duration = .seconds(30 * 86_400), buildTimeout: Duration = .seconds(3600),
        toolsPython: String, executables: [String: String] = [:]
    ) {
        self.definitions = definitions
        self.root = root
        self.managers = managers
        self.channels = channels
        self.channelAlias = channelAlias
        self.keepUnused = keepUnused
        self.buildTimeout = buildTimeout
        self.toolsPython = toolsPython
        self.executables = executables
    }

    /// The defaults, paths under the broker's root.
    package static func defaults(root: String) -> EnvironmentsConfig {
        EnvironmentsConfig(
            definitions: ConfigPaths.resolve("conda-envs", against: root),
            root: ConfigPaths.resolve("var/envs", against: root),
            toolsPython: ConfigPaths.resolve(".venv-conda-tools/bin/python", against: root))
    }
}
