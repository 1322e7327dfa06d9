import ShunterCore
import ShunterHandlers

/// Where a prepared command runs: a local process, a container engine, a batch scheduler.
///
/// A backend knows nothing of transformations or celltypes: the job plugin has already turned
/// the job into an `Execution` (a work directory and a command). To add one, write a type
/// conforming to `Backend` in one file with a `descriptor`, and list it in `BackendRegistry`.
public protocol Backend: Sendable {
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

    /// True when `resume` can re-attach: after a restart the broker then follows the job's
    /// running execution instead of abandoning it and running the job again.
    var canResume: Bool { get }

    /// True when `run` calls `events.started` as soon as the execution exists: the broker then
    /// journals the job's `running` state together with that id, one write instead of two.
    /// Leave it false for a backend that reports nothing; its jobs are journaled `running` on
    /// their own write. Not asked when `canResume`: such a job's `running` is committed before
    /// `run`, so that a crash during the submission leaves it to `resume`, not to a second run.
    var reportsStart: Bool { get }

    /// True when everything the execution starts is a process on this machine working in the
    /// job's work directory, so that recovery finds it there (`LeftoverProcesses`) even when
    /// the broker died before journaling the id `events.started` reported: the broker then
    /// holds that write back, and a job that ends within 200 ms never makes it. False (the
    /// default) makes `events.started` return only once the id is committed: for what only
    /// its id finds again (a container, whose processes work in its own mount namespace).
    var processesWorkInWorkDirectory: Bool { get }

    /// Stops what an execution started before a broker crash left behind, when the broker is
    /// about to run the job anew rather than re-attach: without it, a local job whose broker
    /// was killed would go on running beside its re-run.
    func abandon(externalID: String) async
}

extension Backend {
    public func resume(_ execution: Execution, externalID: String, events: ExecutionEvents) async throws -> ExecutionOutcome {
        throw BackendError.cannotResume(backend: String(describing: Self.self), externalID: externalID)
    }

    public func abandon(externalID: String) async {}

    public var canResume: Bool { false }

    public var reportsStart: Bool { false }

    public var processesWorkInWorkDirectory: Bool { false }
}

/// Callbacks from a running execution to the broker.
public struct ExecutionEvents: Sendable {
    /// Called once the execution has an identity outside this process (a Slurm job id, a
    /// container id). The broker journals it before the backend goes on, so a crash right
    /// after never loses track of it (unless `Backend.processesWorkInWorkDirectory`).
    public var started: @Sendable (_ externalID: String) async throws -> Void
    /// True while the broker shuts down: a cancelled execution that outlives the broker (a
    /// batch job) is then left running for the next start to re-attach, not stopped.
    public var brokerIsStopping: @Sendable () async -> Bool

    public init(
        started: @escaping @Sendable (_ externalID: String) async throws -> Void = { _ in },
        brokerIsStopping: @escaping @Sendable () async -> Bool = { false }
    ) {
        self.started = started
        self.brokerIsStopping = brokerIsStopping
    }
}

/// Builds backends from handler configs; one per backend kind, listed in `BackendRegistry`.
public struct BackendDescriptor: Sendable {
    public var component: ComponentCatalog.Component
    public var make: @Sendable (_ handler: HandlerConfig, _ context: BackendContext) throws -> any Backend

    public init(
        component: ComponentCatalog.Component,
        make: @escaping @Sendable (_ handler: HandlerConfig, _ context: BackendContext) throws -> any Backend
    ) {
        self.component = component
        self.make = make
    }

    public var name: String { component.name }
}

/// What every backend may need from the broker's configuration.
public struct BackendContext: Sendable {
    /// Grace period between TERM and KILL when stopping a job.
    public var killGrace: Duration

    public init(killGrace: Duration = .seconds(5)) {
        self.killGrace = killGrace
    }
}

public enum BackendError: Error, Sendable, CustomStringConvertible {
    case cannotResume(backend: String, externalID: String)
    case launchFailed(command: String, reason: String)
    case unavailable(backend: String, reason: String)

    public var description: String {
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
