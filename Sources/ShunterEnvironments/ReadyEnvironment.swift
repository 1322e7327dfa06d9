import Foundation

/// A built environment a job runs in, held for the job's lifetime: while any job holds one,
/// the janitor does not remove its prefix (also across brokers sharing the root).
package struct ReadyEnvironment: Sendable {
    /// The name, or `inline-<identity>` for an inline spec.
    package var label: String
    package var identity: String
    /// The real directory (not the symlink that names it): stable for the job's whole life.
    package var prefix: String
    package var kind: EnvironmentKind
    /// `variables:` of the spec.
    package var variables: [String: String]
    /// Released when the last copy is dropped (the job ended).
    package var lease: FileLock?

    package init(
        label: String, identity: String, prefix: String, kind: EnvironmentKind, variables: [String: String],
        lease: FileLock?
    ) {
        self.label = label
        self.identity = identity
        self.prefix = prefix
        self.kind = kind
        self.variables = variables
        self.lease = lease
    }

    /// The interpreter of the environment.
    package var python: String { prefix + "/bin/python" }

    /// The job's variables with the environment activated the way `conda activate` does it:
    /// `bin/` first on `PATH`, `CONDA_PREFIX` and `CONDA_DEFAULT_ENV` (plus `VIRTUAL_ENV` for a
    /// venv), and the spec's `variables:`.
    package func activated(_ environment: [String: String]) -> [String: String] {
        var result = environment
        let path = environment["PATH"].map { "\(prefix)/bin:\($0)" } ?? "\(prefix)/bin:/usr/local/bin:/usr/bin:/bin"
        result["PATH"] = path
        result["CONDA_PREFIX"] = prefix
        result["CONDA_DEFAULT_ENV"] = label
        result["CONDA_SHLVL"] = "1"
        if kind == .venv { result["VIRTUAL_ENV"] = prefix }
        for (name, value) in variables { result[name] = value }
        return result
    }

    /// One bash line that runs the packages' activation scripts (`etc/conda/activate.d/*.sh`)
    /// as `conda activate` would, or nil when the environment has none. One line, so that the
    /// user's code keeps its line numbers in bash's error messages.
    package var activationLine: String? {
        let directory = prefix + "/etc/conda/activate.d"
        let scripts = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter {
            $0.hasSuffix(".sh")
        }
        guard !scripts.isEmpty else { return nil }
        // Activation scripts are not written for `set -u`.
        return "set +u; for __a in \"$CONDA_PREFIX\"/etc/conda/activate.d/*.sh; do . \"$__a\"; done; unset __a; set -u"
    }
}
