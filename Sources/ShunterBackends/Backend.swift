import ShunterCore
import ShunterHandlers

/// Where a prepared command runs: a local process, a container engine, a batch scheduler.
///
/// A backend knows nothing of transformations or celltypes: the job plugin has already turned
/// the job into an `Execution` (a work directory and a command). To add one, write a type
/// conforming to `Backend` in one file with a `descriptor`, and list it in `BackendRegistry`.
package protocol Backend: Sendable {
    /// Runs the execution to its end. Cancelling the calling task must stop everything the
    /// execution started (the whole process group, the container, the batch job) before this
    /// returns, and then throw `CancellationError`.
    func run(_ execution: Execution, events: ExecutionEvents) async throws -> ExecutionOutcome

    /// Re-attaches to an execution started before a broker restart, from the `externalID` the
    /// backend reported through `events.started`. Backends whose executions die with the
    /// broker (a local process) throw `BackendError.cannotResume`; the broker then runs the
    /// job again.
    ///
    /// `externalID` is empty when the broker stopped after the execution was started but before
    /// its id was journaled: a backend that names its executions after the job (Slurm) looks
    /// for it by name, and starts it only if it finds none.
    func resume(_ execution: Execution, externalID: String, events: ExecutionEvents) async throws -> ExecutionOutcome

    /// How the broker finds this backend's executions again after it died, and so what it must
    /// journal, and how durably, before an execution goes on (`RecoveryModel`). The default,
    /// `rerun`, assumes nothing of the backend: always correct, never the cheapest.
    var recoveryModel: RecoveryModel { get }

    /// Stops what an execution started before a broker crash left behind, when the broker is
    /// about to run the job anew rather than re-attach: without it, a local job whose broker
    /// was killed would go on running beside its re-run.
    func abandon(externalID: String) async
}

extension Backend {
    package func resume(_ execution: Execution, externalID: String, events: ExecutionEvents) async throws
        -> ExecutionOutcome
    {
        throw BackendError.cannotResume(backend: String(describing: Self.self), externalID: externalID)
    }

    package func abandon(externalID: String) async {}

    package var recoveryModel: RecoveryModel { .rerun }
}

/// What becomes of a backend's executions when the broker dies, and how the next broker finds
/// them: the one fact from which the broker's journal writes follow (its durability policy).
package enum RecoveryModel: String, Sendable, CaseIterable {
    /// The job runs again after a restart, and the backend promises nothing else: it may report
    /// no identity at start, so the job's `running` state is journaled on a write of its own,
    /// and an identity it does report is committed before `events.started` returns.
    case rerun
    /// The job runs again after a restart, and only the identity the backend reports through
    /// `events.started` as soon as the execution exists finds what it started (a container,
    /// whose processes work in its own mount namespace): that identity, and the `running`
    /// state with it, is committed before `events.started` returns, so that recovery can
    /// `abandon` it.
    case rerunFoundByExternalID
    /// The job runs again after a restart, and everything its execution starts is a process on
    /// this machine working in the job's work directory (the local backend): recovery finds it
    /// there even when the broker died before journaling the identity `events.started`
    /// reported, so that write is held back, and a job that ends soon after never makes it.
    case rerunFoundByWorkDirectory
    /// The execution outlives the broker and `resume` re-attaches to it (a batch job): the
    /// job's `running` state is committed before `run` and survives a power loss, so that a
    /// crash during the submission leaves it to `resume`, not to a second run; the identity
    /// `events.started` reports is made durable before the backend goes on.
    case reattach

    /// Whether recovery follows a running execution (`Backend.resume`) instead of running the
    /// job again.
    package var reattaches: Bool { self == .reattach }
}

/// Callbacks from a running execution to the broker.
package struct ExecutionEvents: Sendable {
    /// Called once the execution has an identity outside this process (a Slurm job id, a
    /// container id). The broker journals it before the backend goes on, so a crash right
    /// after never loses track of it (unless the backend's `RecoveryModel` finds its executions
    /// another way).
    package var started: @Sendable (_ externalID: String) async throws -> Void
    /// True while the broker shuts down: a cancelled execution that outlives the broker (a
    /// batch job) is then left running for the next start to re-attach, not stopped.
    package var brokerIsStopping: @Sendable () async -> Bool

    package init(
        started: @escaping @Sendable (_ externalID: String) async throws -> Void = { _ in },
        brokerIsStopping: @escaping @Sendable () async -> Bool = { false }
    ) {
        self.started = started
        self.brokerIsStopping = brokerIsStopping
    }
}

/// Builds backends from handler configs; one per backend kind, listed in `BackendRegistry`.
package struct BackendDescriptor: Sendable {
    package var component: ComponentCatalog.Component
    package var make: @Sendable (_ handler: HandlerConfig, _ context: BackendContext) throws -> any Backend

    package init(
        component: ComponentCatalog.Component,
        make: @escaping @Sendable (_ handler: HandlerConfig, _ context: BackendContext) throws -> any Backend
    ) {
        self.component = component
        self.make = make
    }

    package var name: String { component.name }
}

/// What every backend may need from the broker's configuration.
package struct BackendContext: Sendable {
    /// Grace period between TERM and KILL when stopping a job.
    package var killGrace: Duration

    package init(killGrace: Duration = .seconds(5)) {
        self.killGrace = killGrace
    }
}

package enum BackendError: Error, Sendable, CustomStringConvertible {
    case cannotResume(backend: String, externalID: String)
    case launchFailed(command: String, reason: String)
    case unavailable(backend: String, reason: String)

    package var description: String {
        switch self {
        case .cannotResume(let backend, let externalID):
            "\(backend) cannot re-attach to execution \(externalID); the job runs again"
        case .launchFailed(let command, let reason):
            "could not start '\(command)': \(reason)"
        case .unavailable(let backend, let reason):
            "backend \(backend) is not available on this machine: \(reason)"
        }
    }
}
