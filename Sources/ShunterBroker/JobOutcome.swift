import ShunterCore

/// How a request for a transformation ended, as every waiter on it hears.
package struct JobOutcome: Sendable {
    package enum Status: String, Sendable {
        case succeeded
        case failed
        case cancelled
    }

    package var status: Status
    package var result: Checksum?
    /// The error text a client shows its user (Seamless's shape for job failures).
    package var error: String?
    /// The job's record; nil when the answer came from the result cache without a job.
    package var record: JobRecord?

    package static func cached(_ result: Checksum) -> JobOutcome {
        JobOutcome(status: .succeeded, result: result, error: nil, record: nil)
    }

    package var fromCache: Bool { record == nil && status == .succeeded }

    /// The outcome of a job that ended before this broker process started.
    init?(finished record: JobRecord) {
        switch record.state {
        case .succeeded: self.init(status: .succeeded, result: record.result, error: nil, record: record)
        case .failed: self.init(status: .failed, result: nil, error: record.error, record: record)
        case .cancelled: self.init(status: .cancelled, result: nil, error: record.error, record: record)
        default: return nil
        }
    }

    init(status: Status, result: Checksum?, error: String?, record: JobRecord?) {
        self.status = status
        self.result = result
        self.error = error
        self.record = record
    }
}

/// What `Broker.submit` did with a request.
package enum Submission: Sendable {
    /// The result cache already had the answer; no job was created.
    case cached(Checksum)
    /// A job runs it: a new one, or the one already running the same transformation.
    case job(JobID)
}
