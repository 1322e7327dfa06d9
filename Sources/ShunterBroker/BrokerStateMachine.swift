import ShunterBackends
import ShunterCore
import ShunterHandlers

/// The broker's bookkeeping as a value: the jobs not yet ended and their records, the queue,
/// what runs on each handler, who waits for which job, the ends not yet journaled. Its events
/// (a job admitted, progress, an end, a cancel, a waiter, a recovered job, the stop) change it
/// and return what must be done about it (`Action`): the `Broker` actor performs the actions,
/// which are all its I/O. Every state change goes through `JobState.canMove(to:)`, and every
/// journal write through the durability policy (`DurabilityPolicy`).
///
/// `Input` is what a job needs to start beyond its record (the broker's: the transformation
/// and its environment); the machine only carries it.
struct BrokerStateMachine<Input: Sendable>: Sendable {
    /// What the machine knows of a handler: enough to schedule on it and to journal its jobs.
    struct Handler: Sendable, Hashable {
        var name: String
        var maxJobs: Int
        var recoveryModel: RecoveryModel
    }

    struct Job: Sendable {
        var record: JobRecord
        var input: Input
        var traits: JobTraits
        /// The tokens of the callers waiting for its end.
        var waiters: [Int] = []
        /// Handed to a handler: it has an execution (a task) that must end before the job does.
        var started = false
        var cancelRequested = false
        /// Its insert was fsynced (it survives a power loss, not only a crash of the broker).
        var durablyJournaled = false
    }

    /// What the actor does for an event, in the order given.
    enum Action: Sendable {
        /// Writes the journal; `event` says why, for the log.
        case journal(JournalWrite, JournalDurability, event: JobEvent)
        /// Writes the journal with a job's end, then tells the machine (`endJournaled`): until
        /// then `record` answers the end from memory.
        case journalEnd(JobRecord, JournalDurability)
        /// Runs the job on `handlers[handler]` in a task of its own.
        case start(JobID, handler: Int, Input, JobRecord, resuming: JobExecution.ResumePoint?)
        /// Answers these waiters with the job's outcome.
        case answer(waiters: [Int], JobOutcome)
        /// Cancels the job's execution; it ends when its backend has stopped everything.
        case cancelTask(JobID)
        /// Stops what an interrupted attempt of a job left running, before recovery fails it.
        case stopLeftovers(JobID, externalID: String?, handler: String?)
        /// Stops an execution found at recovery that the job does not go on with.
        case abandon(externalID: String, handler: String)
    }

    let handlers: [Handler]
    /// Which handlers take which jobs (also what admission checks a job against).
    let matcher: HandlerMatcher
    /// Jobs not yet ended, by id.
    private(set) var active: [JobID: Job] = [:]
    /// The job running each transformation: one job per transformation at a time.
    private(set) var jobForTransformation: [Checksum: JobID] = [:]
    /// Queued jobs, oldest first.
    private(set) var queue: [JobID] = []
    private(set) var runningPerHandler: [String: Int]
    /// Jobs that have ended but whose end is not yet committed to the journal.
    private(set) var endedNotJournaled: [JobID: JobRecord] = [:]
    private(set) var shuttingDown = false
    private var lastWaiterToken = 0

    /// The handlers in the order jobs are offered to them, each with its backend's recovery model.
    init(handlers: [(config: HandlerConfig, recoveryModel: RecoveryModel)]) {
        self.handlers = handlers.map {
            Handler(name: $0.config.name, maxJobs: $0.config.limits.maxJobs, recoveryModel: $0.recoveryModel)
        }
        matcher = HandlerMatcher(handlers: handlers.map(\.config))
        runningPerHandler = Dictionary(self.handlers.map { ($0.name, 0) }, uniquingKeysWith: { first, _ in first })
    }

    // MARK: - Queries

    /// The live record of a job, or its end before that is journaled.
    func record(_ id: JobID) -> JobRecord? {
        active[id]?.record ?? endedNotJournaled[id]
    }

    /// Every record memory knows better than the journal.
    var rememberedRecords: [JobRecord] {
        active.values.map(\.record) + endedNotJournaled.values
    }

    /// Whether a caller told this job's id needs its row made durable first.
    func needsDurableRow(_ id: JobID) -> Bool {
        active[id]?.durablyJournaled != true
    }

    /// The rule the durability policy gives `event` for a job on `handler` (nil: none yet).
    func rule(for event: JobEvent, handler: String?) -> JournalRule {
        DurabilityPolicy.rule(for: event, model: handlers.first { $0.name == handler }?.recoveryModel)
    }

    // MARK: - Admission and scheduling

    /// A job journaled as `record` (queued) joins the queue; whatever has room starts.
    mutating func admitted(
        _ record: JobRecord, input: Input, traits: JobTraits, durablyJournaled: Bool, now: Double
    ) -> [Action] {
        enqueue(Job(record: record, input: input, traits: traits, durablyJournaled: durablyJournaled))
        return dispatch(now: now)
    }

    mutating func markedDurable(_ id: JobID) {
        active[id]?.durablyJournaled = true
    }

    private mutating func enqueue(_ job: Job) {
        active[job.record.id] = job
        jobForTransformation[job.record.transformation] = job.record.id
        queue.append(job.record.id)
    }

    /// Starts every queued job that has a handler with room, oldest first; fails those no
    /// handler takes.
    mutating func dispatch(now: Double) -> [Action] {
        guard !shuttingDown, !queue.isEmpty else { return [] }
        var actions: [Action] = []
        var waiting: [JobID] = []
        var unrunnable: [(JobID, String)] = []
        for (position, id) in queue.enumerated() {
            if !handlers.contains(where: { runningPerHandler[$0.name, default: 0] < $0.maxJobs }) {
                // Every handler is full: nothing further down the queue can start either.
                waiting.append(contentsOf: queue[position...])
                break
            }
            guard let job = active[id] else { continue }
            let candidates = matcher.candidateIndices(job.traits)
            if candidates.isEmpty {
                let reasons = matcher.explain(job.traits).map { "  \($0.handler.name): \($0.reason)" }
                unrunnable.append(
                    (
                        id,
                        "no job handler accepts this job (\(job.traits.summary)):\n" + reasons.joined(separator: "\n")
                    ))
                continue
            }
            guard
                let handler = candidates.first(where: {
                    runningPerHandler[handlers[$0].name, default: 0] < handlers[$0].maxJobs
                })
            else {
                waiting.append(id)
                continue
            }
            actions += start(id, on: handler, resuming: nil, now: now)
        }
        queue = waiting
        for (id, reason) in unrunnable {
            actions += ended(id, .failed(reason, .none), now: now)
        }
        return actions
    }

    private mutating func start(_ id: JobID, on handler: Int, resuming: JobExecution.ResumePoint?, now: Double)
        -> [Action]
    {
        guard var job = active[id] else { return [] }
        let name = handlers[handler].name
        runningPerHandler[name, default: 0] += 1
        job.record.handler = name
        if resuming == nil {
            // A re-attached job goes on with the attempt it started before the restart.
            job.record.attempts += 1
            job.record.startedAt = now
        }
        job.started = true
        active[id] = job
        return [.start(id, handler: handler, job.input, job.record, resuming: resuming)]
    }

    // MARK: - A running job

    /// Moves a running job on as its execution reports. Throws on an illegal move, which would
    /// be a bug in the execution pipeline, and for a job that is not active.
    mutating func progress(_ progress: JobProgress, of id: JobID, now: Double) throws -> [Action] {
        switch progress {
        case .preparing:
            return try move(id, to: .preparing, as: .preparing, now: now)
        case .running(let workDirectory):
            return try move(id, to: .running, as: .running, now: now) { $0.workDirectory = workDirectory }
        case .externalID(let externalID):
            guard var job = active[id] else { return [] }
            job.record.externalID = externalID
            job.record.updatedAt = now
            active[id] = job
            return journal(job.record, at: .externalIDReported)
        case .collecting(let tails):
            return try move(id, to: .collecting, as: .collecting, now: now) {
                $0.stdoutTail = tails.stdout
                $0.stderrTail = tails.stderr
            }
        case .unjournaledAttemptFound:
            // It ran: `attempts` says so with the job's next journal write.
            active[id]?.record.attempts += 1
            return []
        case .collectingFinishedAttempt(let workDirectory):
            // The attempt `start` counted did not run: an earlier one that had finished is collected.
            if let attempts = active[id]?.record.attempts, attempts > 0 { active[id]?.record.attempts = attempts - 1 }
            return try move(id, to: .preparing, as: .preparing, now: now)
                + move(id, to: .running, as: .collectedAttemptRunning, now: now) { $0.workDirectory = workDirectory }
        case .reattachAbandoned:
            return try move(id, to: .queued, as: .reattachAbandoned, now: now)
        }
    }

    private mutating func move(
        _ id: JobID, to state: JobState, as event: JobEvent, now: Double, update: (inout JobRecord) -> Void = { _ in }
    ) throws -> [Action] {
        guard var job = active[id] else { throw BrokerError.unknownJob(id) }
        guard job.record.state.canMove(to: state) else {
            throw IllegalTransition(from: job.record.state, to: state, jobID: id.description)
        }
        job.record.state = state
        job.record.updatedAt = now
        update(&job.record)
        active[id] = job
        return journal(job.record, at: event)
    }

    private func journal(_ record: JobRecord, at event: JobEvent) -> [Action] {
        let rule = rule(for: event, handler: record.handler)
        switch rule.writes {
        case .nothing:
            return []
        case .record, .newRow:
            // A new row is inserted where the job is admitted; any later rule writes the record.
            return [.journal(.record(record), rule.durability, event: event)]
        case .touch:
            return [.journal(.touch(record.id, at: record.updatedAt), rule.durability, event: event)]
        case .failure:
            return [
                .journal(
                    .failUnreadable(record.id, error: record.error ?? "", at: record.updatedAt), rule.durability,
                    event: event)
            ]
        }
    }

    /// A job ended. Its waiters are answered and the next jobs start before the end is
    /// journaled: a crash before that commit only means recovery finds the result in the
    /// cache (or runs a failed job again).
    mutating func ended(_ id: JobID, _ ending: JobEnding, now: Double) -> [Action] {
        guard var job = active.removeValue(forKey: id) else { return [] }
        if jobForTransformation[job.record.transformation] == id {
            jobForTransformation[job.record.transformation] = nil
        }
        if job.started, let handler = job.record.handler {
            runningPerHandler[handler, default: 1] -= 1
        }
        queue.removeAll { $0 == id }
        let outcome: JobOutcome
        var ending = ending
        if case .succeeded = ending, !job.record.state.canMove(to: .succeeded) {
            // Only a collected job succeeds: anything else is a bug in the pipeline, and the
            // job's result is not trusted.
            ending = .failed(
                IllegalTransition(from: job.record.state, to: .succeeded, jobID: id.description).description, .none)
        }
        job.record.finishedAt = now
        job.record.updatedAt = now
        switch ending {
        case .succeeded(let result, let tails, _):
            job.record.state = .succeeded
            job.record.result = result
            job.record.stdoutTail = tails.stdout
            job.record.stderrTail = tails.stderr
            outcome = JobOutcome(status: .succeeded, result: result, error: nil, record: job.record)
        case .failed(let message, let tails):
            job.record.state = .failed
            // The waiters hear the whole message; the record keeps its head and tail.
            job.record.error = StoredText.capped(message)
            job.record.stdoutTail = tails.stdout
            job.record.stderrTail = tails.stderr
            outcome = JobOutcome(status: .failed, result: nil, error: message, record: job.record)
        case .cancelled(let reason):
            job.record.state = .cancelled
            job.record.error = reason
            outcome = JobOutcome(status: .cancelled, result: nil, error: reason, record: job.record)
        case .interrupted:
            // The broker is stopping: the journal keeps the job as it was, for the next start.
            return [
                .answer(
                    waiters: job.waiters,
                    JobOutcome(status: .cancelled, result: nil, error: "broker shutting down", record: job.record))
            ]
        }
        endedNotJournaled[id] = job.record
        return [.answer(waiters: job.waiters, outcome)] + dispatch(now: now)
            + [.journalEnd(job.record, rule(for: .ended, handler: job.record.handler).durability)]
    }

    /// The end of job `id` is in the journal: memory forgets it.
    mutating func endJournaled(_ id: JobID) {
        endedNotJournaled[id] = nil
    }

    /// Cancels a job: a queued one ends at once, a running one once its execution has
    /// stopped. `accepted` is false for a job that is not active or already being cancelled.
    mutating func cancelRequested(_ id: JobID, now: Double) -> (accepted: Bool, actions: [Action]) {
        guard var job = active[id], !job.cancelRequested else { return (false, []) }
        job.cancelRequested = true
        active[id] = job
        if job.started { return (true, [.cancelTask(id)]) }
        return (true, ended(id, .cancelled(reason: "cancelled before it started"), now: now))
    }

    // MARK: - Waiters

    mutating func newWaiterToken() -> Int {
        lastWaiterToken += 1
        return lastWaiterToken
    }

    /// False when the job is not active (any more): the waiter is then answered another way.
    mutating func waiterAdded(_ token: Int, to id: JobID) -> Bool {
        guard active[id] != nil else { return false }
        active[id]!.waiters.append(token)
        return true
    }

    /// True when the waiter was still waiting: it must then be answered (with a cancellation).
    mutating func waiterDropped(_ token: Int, from id: JobID) -> Bool {
        guard let index = active[id]?.waiters.firstIndex(of: token) else { return false }
        active[id]!.waiters.remove(at: index)
        return true
    }

    // MARK: - Stop

    /// Stops taking and starting jobs; every running execution is cancelled. Queued and running
    /// jobs stay in the journal as they are, so the next start runs them.
    mutating func shutdown() -> [Action] {
        shuttingDown = true
        return active.values.filter(\.started).map(\.record.id).sorted().map { .cancelTask($0) }
    }

    // MARK: - Recovery

    /// What recovery knows of one unfinished job of the journal before deciding its fate.
    struct RecoveredJob: Sendable {
        var record: JobRecord
        /// How many broker starts in a row found it unfinished, this one included.
        var recoveries: Int
        /// Its request read back, or why that failed.
        var input: Result<(Input, JobTraits), any Error>
        /// The result cache's answer for its transformation, or why there is none.
        var cachedResult: Result<Checksum?, any Error>
    }

    /// The limits recovery applies.
    struct RecoveryLimits: Sendable {
        /// Starts in a row that may find a job unfinished before it fails (`Broker.recoveryLimit`).
        var recoveries: Int
        /// Attempts whose end never reached the journal before the job fails (`max_attempts`).
        var attempts: Int
        var journalPath: String
    }

    /// Decides what becomes of a job the journal holds unfinished: it fails (poison job,
    /// unreadable request, too many attempts), succeeds (its result is in the cache), is
    /// cancelled (a duplicate), is followed again (an execution that outlives the broker), or
    /// is queued to run again. Nothing starts before `recoveryFinished`, except a re-attach.
    mutating func recovered(_ job: RecoveredJob, limits: RecoveryLimits, now: Double) -> [Action] {
        var record = job.record
        let leftovers = Action.stopLeftovers(record.id, externalID: record.externalID, handler: record.handler)
        guard job.recoveries <= limits.recoveries else {
            return [leftovers]
                + endRecovered(
                    record, .failed, now: now,
                    error:
                        "the broker stopped without a graceful shutdown \(job.recoveries) times in a row while this job was "
                        + "queued or running; it is not run again, so that it cannot keep the broker down. Submit it again "
                        + "to retry, and look for the cause in the broker's log.")
        }
        let input: Input
        let traits: JobTraits
        let cached: Checksum?
        do {
            (input, traits) = try job.input.get()
            cached = try job.cachedResult.get()
        } catch {
            return [leftovers]
                + endRecovered(record, .failed, now: now, error: "cannot be run again after a restart: \(error)")
        }
        if let cached {
            // The crash came after the result was stored but before the job's end was journaled.
            record.result = cached
            return endRecovered(record, .succeeded, now: now)
        }
        if record.attempts >= limits.attempts {
            // Each run ended without its end reaching the journal: running it again would do
            // the same (a job that fills the disk holding the journal, at every start).
            return [leftovers]
                + endRecovered(
                    record, .failed, now: now,
                    error:
                        "the job ran \(record.attempts) times and the broker never recorded its end (it stopped, crashed, "
                        + "or could not write its journal \(limits.journalPath): is that disk full?); it is not run again. "
                        + "Submit it again to retry.")
        }
        if jobForTransformation[record.transformation] != nil {
            // Only a journal written before per-transformation dedup existed can hold two.
            return endRecovered(
                record, .cancelled, now: now, error: "duplicate of a recovered job for the same transformation")
        }
        let handler = handlers.firstIndex { $0.name == record.handler }
        // A backend whose executions outlive the broker (Slurm) is followed, not re-run: the
        // job resumes from its work directory and journaled external id (empty when the
        // crash came between submission and journal: the backend then finds it by name).
        if let handler, handlers[handler].recoveryModel.reattaches,
            record.state == .running || record.state == .collecting, let workDirectory = record.workDirectory
        {
            var actions: [Action] = []
            if record.state == .collecting {
                // Collecting starts over; the backend says again how the execution ended.
                guard record.state.canMove(to: .running, atRecovery: true) else { return [] }
                record.state = .running
                record.updatedAt = now
                actions += journal(record, at: .reattachedOnRecovery)
            }
            active[record.id] = Job(record: record, input: input, traits: traits)
            jobForTransformation[record.transformation] = record.id
            let point = JobExecution.ResumePoint(externalID: record.externalID ?? "", workDirectory: workDirectory)
            return actions + start(record.id, on: handler, resuming: point, now: now)
        }
        var actions: [Action] = []
        if let externalID = record.externalID, let handler {
            actions.append(.abandon(externalID: externalID, handler: handlers[handler].name))
            record.externalID = nil
        }
        if record.state != .queued, record.state.canMove(to: .queued, atRecovery: true) {
            record.state = .queued
            record.updatedAt = now
            actions += journal(record, at: .requeuedOnRecovery)
        }
        enqueue(Job(record: record, input: input, traits: traits))
        return actions
    }

    private func endRecovered(_ stored: JobRecord, _ state: JobState, now: Double, error: String? = nil) -> [Action] {
        var record = stored
        guard record.state.canMove(to: state, atRecovery: true) else { return [] }
        record.state = state
        record.error = error
        record.finishedAt = now
        record.updatedAt = now
        return journal(record, at: .endedOnRecovery)
    }

    /// A recovered job whose journal write failed: it is forgotten, and fails with `reason`
    /// touching nothing else of its row.
    mutating func recoveryFailed(_ record: JobRecord, reason: String, now: Double) -> [Action] {
        if let job = active.removeValue(forKey: record.id), job.started, let handler = job.record.handler {
            runningPerHandler[handler, default: 1] -= 1
        }
        queue.removeAll { $0 == record.id }
        if jobForTransformation[record.transformation] == record.id {
            jobForTransformation[record.transformation] = nil
        }
        return unreadable(record.id, externalID: record.externalID, handler: record.handler, reason: reason, now: now)
    }

    /// A job whose row cannot be read back (or whose recovery failed): it fails.
    func unreadable(_ id: JobID, externalID: String?, handler: String?, reason: String, now: Double) -> [Action] {
        let rule = rule(for: .unreadableOnRecovery, handler: nil)
        return [
            .stopLeftovers(id, externalID: externalID, handler: handler),
            .journal(.failUnreadable(id, error: reason, at: now), rule.durability, event: .unreadableOnRecovery),
        ]
    }

    /// Every unfinished job has been recovered: the queue starts.
    mutating func recoveryFinished(now: Double) -> [Action] {
        dispatch(now: now)
    }
}
