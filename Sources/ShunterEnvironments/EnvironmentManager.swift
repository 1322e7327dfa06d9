/// Builds an environment from a spec into a prefix: one type per tool (`CondaCommandManager`
/// for micromamba, mamba and conda; `RattlerManager`; `VenvManager`), listed by name in
/// `EnvironmentManagerRegistry`. The `EnvironmentStore` decides where and when (a fresh
/// directory, under a lock, renamed into place after success); a manager only fills the prefix.
package protocol EnvironmentManager: Sendable {
    /// The name an admin writes in `environments.managers`.
    var name: String { get }

    /// What the prefix will be: a conda prefix or a Python virtual environment.
    var kind: EnvironmentKind { get }

    /// Nil when this manager can build `spec` on this machine; otherwise why not, in words
    /// ("micromamba is not on PATH"). Shown to the user when no manager can.
    func unsuitability(for spec: EnvironmentSpec) async -> String?

    /// Fills `prefix` (which does not exist yet) with the environment. `step` runs the tool's
    /// commands with their output in the build log. Throws `EnvironmentBuildFailure` with the
    /// tool's own message (the solver's, pip's) when the spec cannot be built.
    func create(_ spec: EnvironmentSpec, prefix: String, step: ManagerCommand) async throws
}

package enum EnvironmentKind: String, Sendable, Hashable, Codable {
    /// A conda prefix (`conda-meta/`): jobs get `CONDA_PREFIX`.
    case conda
    /// A virtual environment (`pyvenv.cfg`): jobs get `VIRTUAL_ENV`, and `CONDA_PREFIX` too,
    /// since the job asked for a conda environment by name.
    case venv
}

/// A build that failed for a reason the user can act on: the message is the tool's own.
package struct EnvironmentBuildFailure: Error, Sendable, CustomStringConvertible {
    package var message: String
    package init(_ message: String) { self.message = message }
    package var description: String { message }
}
