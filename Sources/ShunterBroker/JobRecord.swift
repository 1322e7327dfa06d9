import ShunterCore

/// Everything the broker knows about one job, as journaled and as the native API shows it.
package struct JobRecord: Sendable, Codable, Hashable {
    package var id: JobID
    package var transformation: Checksum
    package var state: JobState
    package var language: String
    /// The handler that took the job; nil while it waits for one.
    package var handler: String?
    package var createdAt: Double
    package var updatedAt: Double
    package var startedAt: Double?
    package var finishedAt: Double?
    package var result: Checksum?
    package var error: String?
    package var stdoutTail: String?
    package var stderrTail: String?
    /// The backend's id for the execution (a Slurm job id), journaled as soon as it exists.
    package var externalID: String?
    /// How many times the job was started; more than one after a crash recovery.
    package var attempts: Int
    package var workDirectory: String?

    package init(id: JobID, transformation: Checksum, state: JobState, language: String, createdAt: Double) {
        self.id = id
        self.transformation = transformation
        self.state = state
        self.language = language
        self.createdAt = createdAt
        self.updatedAt = createdAt
        self.attempts = 0
    }

    enum CodingKeys: String, CodingKey {
        case id
        case transformation
        case state
        case language
        case handler
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case result
        case error
        case stdoutTail = "stdout_tail"
        case stderrTail = "stderr_tail"
        case externalID = "external_id"
        case attempts
        case workDirectory = "work_directory"
    }
}

/// Which jobs a listing returns.
package struct JobFilter: Sendable, Hashable {
    package var states: [JobState]?
    package var handler: String?
    package var transformation: Checksum?
    package var limit: Int
    /// Paging: only jobs older than this one (listings are newest first, so these come after
    /// it); the cursor `GET /jobs` gives for its next page.
    package var after: JobID?

    package init(
        states: [JobState]? = nil, handler: String? = nil, transformation: Checksum? = nil, limit: Int = 100,
        after: JobID? = nil
    ) {
        self.states = states
        self.handler = handler
        self.transformation = transformation
        self.limit = limit
        self.after = after
    }

    /// Whether `record` passes the filter (the limit aside).
    package func matches(_ record: JobRecord) -> Bool {
        if let states, !states.isEmpty, !states.contains(record.state) { return false }
        if let handler, record.handler != handler { return false }
        if let transformation, record.transformation != transformation { return false }
        if let after, record.id >= after { return false }
        return true
    }
}
