import Synchronization

/// What an execution tells the broker as its job moves on: progress flows one way, from the
/// execution (which holds no broker) to whatever takes these reports.
enum JobProgress: Sendable {
    /// Preparing starts.
    case preparing
    /// The command is about to run in `workDirectory`.
    case running(workDirectory: String)
    /// The backend reported the execution's identity (`ExecutionEvents.started`); the report
    /// returns once the journal holds it as durably as the durability policy says.
    case externalID(String)
    /// The execution ended; collecting starts, with the tails of its output.
    case collecting(OutputTails)
    /// An earlier attempt the journal never heard of left its work directory: it ran, and
    /// counts.
    case unjournaledAttemptFound
    /// An earlier attempt, in `workDirectory`, ran to its end while the broker was down: it is
    /// collected instead of run again, so the attempt counted for this run did not happen.
    case collectingFinishedAttempt(workDirectory: String)
    /// Re-attaching after a restart gave up: the job goes back to the queue and runs again.
    case reattachAbandoned
}

/// Takes one job's progress reports (the broker). Throws when the move is illegal, which would
/// be a bug in the execution pipeline, or when the journal refuses a write the report waits for.
protocol JobProgressSink: Sendable {
    func report(_ progress: JobProgress, of job: JobID) async throws
}

/// Set once, when the broker begins to stop: executions read it without asking the broker.
final class StopSignal: Sendable {
    private let stopping = Atomic<Bool>(false)

    var isSet: Bool { stopping.load(ordering: .acquiring) }

    func set() { stopping.store(true, ordering: .releasing) }
}
