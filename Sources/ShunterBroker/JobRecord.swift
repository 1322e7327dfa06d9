import ShunterCore

/// Everything the broker knows about one job, as journaled and as the native API shows it.
public struct JobRecord: Sendable, Codable, Hashable {
    public var id: JobID
    public var transformation: Checksum
    public var state: JobState
    public var language: String
    /// The handler that took the job; nil while it waits for one.
    public var handler: String?
    public var createdAt: Double
    public var updatedAt: Double
    public var startedAt: Double?
    public var finishedAt: Double?
    public var result: Checksum?
    public var error: String?
    public var stdoutTail: String?
    public var stderrTail: String?
    /// The backend's id for the execution (a Slurm job id), journaled as soon as it exists.
    public var externalID: String?
    /// How many times the job was started; more than one after a crash recovery.
    public var attempts: Int
    public var workDirectory: String?

    public init(id: JobID, transformation: Checksum, state: JobState, language: String, createdAt: Double) {
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
public struct JobFilter: Sendable, Hashable {
    public var states: [JobState]?
    public var handler: String?
    public var transformation: Checksum?
    public var limit: Int
    /// Paging: only jobs older than this one (listings are newest first, so these come after
    /// it); the cursor `GET /jobs` gives for its next page.
    public var after: JobID?

    public init(
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
    public func matches(_ record: JobRecord) -> Bool {
        if let states, !states.isEmpty, !states.contains(record.state) { return false }
        if let handler, record.handler != handler { return false }
        if let transformation, record.transformation != transformation { return false }
        if let after, record.id >= after { return false }
        return true
    }
}
