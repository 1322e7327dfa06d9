/// Where a job is in its life. The broker makes only the moves `canMove(to:atRecovery:)`
/// allows, recovery's included, so a restart can tell from the journal alone what to do with
/// a job.
///
/// ```
/// queued ──► preparing ──► running ──► collecting ──► succeeded
///    │            │            │            │
///    └────────────┴────────────┴────────────┴──► failed | cancelled
/// ```
/// `preparing`, `running` and `collecting` are *interrupted* states after a crash: recovery
/// moves such a job back to `queued` (or, for a backend that can re-attach, leaves it running),
/// or ends it.
package enum JobState: String, Sendable, Codable, CaseIterable {
    case queued
    case preparing
    case running
    case collecting
    case succeeded
    case failed
    case cancelled

    package var isTerminal: Bool {
        switch self {
        case .succeeded, .failed, .cancelled: true
        default: false
        }
    }

    /// A job in one of these states was being worked on when the broker stopped.
    package var isActive: Bool {
        switch self {
        case .preparing, .running, .collecting: true
        default: false
        }
    }

    /// The legal moves. `atRecovery` adds the moves only a restart may make, from what the
    /// journal held of a job the last broker process did not finish.
    package func canMove(to next: JobState, atRecovery: Bool = false) -> Bool {
        switch (self, next) {
        case (.queued, .preparing), (.preparing, .running), (.running, .collecting),
            (.collecting, .succeeded):
            true
        // Recovery: an interrupted job starts over from the queue.
        case (.preparing, .queued), (.running, .queued), (.collecting, .queued):
            true
        // After a restart only: a job caught before its end succeeded when the result cache
        // holds its result; an execution that outlived the broker, caught while it was being
        // collected, is followed from `running` again.
        case (.queued, .succeeded), (.preparing, .succeeded), (.running, .succeeded), (.collecting, .running):
            atRecovery
        case (let from, .failed), (let from, .cancelled):
            !from.isTerminal
        default:
            false
        }
    }
}

package struct IllegalTransition: Error, Sendable, CustomStringConvertible {
    package let from: JobState
    package let to: JobState
    package let jobID: String

    package init(from: JobState, to: JobState, jobID: String) {
        self.from = from
        self.to = to
        self.jobID = jobID
    }

    package var description: String {
        "job \(jobID): illegal state transition \(from.rawValue) → \(to.rawValue)"
    }
}
