import Foundation

/// Asks the local backend to start a job as a child forked from a warm parent (a fork server
/// that has already imported what the job needs) instead of starting its command cold.
///
/// The plugin still prepares the whole cold `Execution.command`: the Slurm backend ignores
/// this and submits the command, a human can re-run it, and the job looks the same to the
/// broker either way (a process of its own in its own session and work directory, its exit
/// status, its stdout and stderr files). See `WarmParents` and docs/python-plugin.md.
package struct WarmStart: Sendable {
    /// Which warm parent: one per distinct key, started on first use.
    package var parent: WarmParentKey
    /// What the child runs (for Python: the runner script and its argument, `sys.argv`).
    package var arguments: [String]
    /// How long a warm parent with no job stays up.
    package var idleTimeout: Duration

    package init(parent: WarmParentKey, arguments: [String], idleTimeout: Duration) {
        self.parent = parent
        self.arguments = arguments
        self.idleTimeout = idleTimeout
    }
}

/// What makes two warm parents interchangeable: the same program (interpreter and arguments)
/// started with the same environment. A job's own environment must equal it: the child only
/// re-applies it, what the interpreter read at start-up (`PYTHONPATH`, ...) stays.
package struct WarmParentKey: Sendable, Hashable {
    /// For `GET /status` and logs ("python", "python in conda environment x").
    package var label: String
    /// argv; `command[0]` is looked up in the environment's `PATH` unless it has a slash.
    package var command: [String]
    package var environment: [String: String]

    package init(label: String, command: [String], environment: [String: String]) {
        self.label = label
        self.command = command
        self.environment = environment
    }
}
