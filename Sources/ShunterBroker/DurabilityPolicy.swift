import ShunterBackends

/// A moment in a job's life at which the broker may write the job's journal row.
package enum JobEvent: String, Sendable, CaseIterable {
    /// Accepted for a caller who waits for the result (`Broker.run`): nobody is told its id.
    case acceptedForWaitingCaller
    /// Accepted for a caller who is told the job's id (`Broker.submit`).
    case acceptedWithIDTold
    /// A caller told the id joined a job accepted for a waiting caller.
    case joinedWithIDTold
    case preparing
    case running
    /// The backend reported the execution's identity (`ExecutionEvents.started`).
    case externalIDReported
    /// An attempt that ran to its end while the broker was down is collected: its `running`.
    case collectedAttemptRunning
    case collecting
    /// Succeeded, failed or cancelled while the broker runs.
    case ended
    /// Stopped by the broker's shutdown.
    case interrupted
    /// A re-attach after a restart gave up: the job goes back to the queue and runs again.
    case reattachAbandoned
    /// Recovery queues a job it found interrupted.
    case requeuedOnRecovery
    /// Recovery re-attaches to an execution it found `collecting`: collecting starts over.
    case reattachedOnRecovery
    /// Recovery ends a job: its result was in the cache, or it cannot run again.
    case endedOnRecovery
    /// Recovery fails a job whose row cannot be read back.
    case unreadableOnRecovery
}

/// What the broker writes to the journal at one event, and how durably.
package struct JournalRule: Hashable, Sendable, CustomStringConvertible {
    package enum Content: String, Sendable {
        /// Nothing: the record changes in memory only.
        case nothing
        /// The job's row, new.
        case newRow
        /// The job's whole record.
        case record
        /// Only the row's `updated_at` (`JournalWrite.touch`).
        case touch
        /// The row's state and error only (`JournalWrite.failUnreadable`).
        case failure
    }

    package var writes: Content
    package var durability: JournalDurability

    package init(writes: Content, durability: JournalDurability) {
        self.writes = writes
        self.durability = durability
    }

    package static let nothing = JournalRule(writes: .nothing, durability: .memoryOnly)

    package var description: String { "\(writes.rawValue) \(durability.rawValue)" }
}

/// The broker's one durability policy: for each event in a job's life and each backend's
/// recovery model, what is journaled and how durably. The broker and the executions ask it;
/// they decide nothing about the journal themselves.
///
/// The rule behind every entry: a write is as strong as what a crash (or a power loss) right
/// after it would cost without it, given how recovery finds the job's execution again, and
/// no stronger, because each synced commit is a large part of a trivial job's latency.
package enum DurabilityPolicy {
    /// The rule for `event` on a handler whose backend recovers as `model`; nil `model` for a
    /// job no handler has taken yet.
    package static func rule(for event: JobEvent, model: RecoveryModel?) -> JournalRule {
        switch event {
        case .acceptedForWaitingCaller:
            // The caller hears of the job only through its result: a crash before the batch's
            // commit fails the caller's request with the broker, and recovery removes what the
            // job had started (its id is among the journal's unjournaled ones).
            return JournalRule(writes: .newRow, durability: .eventually)
        case .acceptedWithIDTold, .joinedWithIDTold:
            // Told its id, a caller may come back for the job after a power loss.
            return JournalRule(writes: event == .acceptedWithIDTold ? .newRow : .touch, durability: .durable)
        case .preparing, .collecting, .collectedAttemptRunning, .interrupted:
            // Recovery treats a job found `queued` or `running` exactly as one that was
            // preparing or collecting, so these writes would buy nothing; an attempt collected
            // after a restart is collected again after another; an interrupted job stays in
            // the journal as it was, for the next start.
            return .nothing
        case .running:
            switch model {
            case .reattach:
                // Committed before the submission: a crash during it leaves the job to
                // `resume`, which looks for it by name, not to a second submission.
                return JournalRule(writes: .record, durability: .durable)
            case .rerunFoundByExternalID, .rerunFoundByWorkDirectory:
                // Goes with the identity the backend reports at once: one write, not two.
                return .nothing
            case .rerun, nil:
                // Its own write, so that the attempt is counted; a crash may lose it, since a
                // job found `queued` runs again as one found `running` does.
                return JournalRule(writes: .record, durability: .eventually)
            }
        case .externalIDReported:
            switch model {
            case .reattach:
                // A batch job runs on when the broker's machine loses power: its id must
                // survive that, and be committed before the job goes on.
                return JournalRule(writes: .record, durability: .durable)
            case .rerunFoundByExternalID, .rerun, nil:
                // Recovery finds a container by nothing else, so its name is committed before
                // the container exists; it need not survive a power loss, which the container
                // does not either.
                return JournalRule(writes: .record, durability: .committed)
            case .rerunFoundByWorkDirectory:
                // Recovery finds a local process by its work directory should the broker die
                // before this write: it is held back, and a job that ends soon never writes it.
                return JournalRule(writes: .record, durability: .deferred)
            }
        case .ended:
            // Answered before its commit, and not synced on its own: after a crash or a power
            // loss, recovery finds the result in the cache (or runs a failed job again).
            return JournalRule(writes: .record, durability: .batched)
        case .reattachAbandoned, .requeuedOnRecovery, .reattachedOnRecovery, .endedOnRecovery:
            // Rare, and each decides what the next start does with the job.
            return JournalRule(writes: .record, durability: .durable)
        case .unreadableOnRecovery:
            return JournalRule(writes: .failure, durability: .durable)
        }
    }
}
