import Foundation
import Logging
import ShunterBackends
import ShunterCore
import ShunterHandlers
import ShunterPlugins
import ShunterStore

/// The broker: takes transformations, answers from the cache when it can, otherwise journals a
/// job, gives it to the first handler that accepts it and has room, and answers everyone
/// waiting for that transformation.
///
/// All bookkeeping is actor-isolated and cheap; the work of a job (buffers, processes, disk)
/// runs in its own task outside the actor, which it calls back only to move the job's state.
public actor Broker: JobProgressSink {
    private let settings: BrokerSettings
    private let buffers: any BufferStore
    private let results: any ResultStore
    private let journal: JobJournal
    private let handlers: [HandlerRuntime]
    private let matcher: HandlerMatcher
    private let logger: Logger

    /// Jobs not yet ended, by id.
    private var active: [JobID: ActiveJob] = [:]
    /// The job running each transformation: one job per transformation at a time.
    private var jobForTransformation: [Checksum: JobID] = [:]
    /// Submissions being looked up or journaled, with the identical ones that wait for them.
    private var admitting: [Checksum: [CheckedContinuation<Submission, any Error>]] = [:]
    /// Queued jobs, oldest first.
    private var queue: [JobID] = []
    private var runningPerHandler: [String: Int] = [:]
    private var shuttingDown = false
    /// Set with `shuttingDown`, for the executions to read without asking the broker.
    private let stopping = StopSignal()
    private var nextWaiterToken = 0
    /// Jobs that have ended but whose end is not yet committed to the journal.
    private var endedNotJournaled: [JobID: JobRecord] = [:]

    private struct ActiveJob {
        var record: JobRecord
        var transformation: Transformation
        var environment: TransformationEnvironment?
        var traits: JobTraits
        var waiters: [Int: CheckedContinuation<JobOutcome, any Error>] = [:]
        var task: Task<Void, Never>?
        var cancelRequested = false
        /// Its insert was fsynced (it survives a power loss, not only a crash of the broker).
        var durablyJournaled = false
    }

    public init(
        settings: BrokerSettings, buffers: any BufferStore, results: any ResultStore, journal: JobJournal,
        handlers: [HandlerRuntime], logger: Logger
    ) {
        self.settings = settings
        self.buffers = buffers
        self.results = results
        self.journal = journal
        self.handlers = handlers
        self.matcher = HandlerMatcher(handlers: handlers.map(\.config))
        self.logger = logger
        for handler in handlers { runningPerHandler[handler.name] = 0 }
    }

    // MARK: - Requests

    /// Answers a transformation: from the cache, by joining the job already running it, or by
    /// running a new job. Returns when it is done.
    ///
    /// The job's insert is not even committed before it starts (`submit(_:durable:)` with
    /// `durable: false`): the caller hears of the job only through its result, so the insert
    /// goes with the journal's next batch, within 10 ms. A crash before that commit fails the
    /// caller's request with the broker, and recovery removes what the job had started
    /// (`recover`). That fsync was a large part of a trivial job's latency, and the commit of
    /// its own the largest part of the broker's CPU per job (docs/performance.md).
    public func run(_ transformation: Transformation) async throws -> JobOutcome {
        switch try await submit(transformation, durable: false) {
        case .cached(let result): return .cached(result)
        case .job(let id): return try await wait(id)
        }
    }

    /// Accepts a transformation without waiting for it. With `durable` (the default: the caller
    /// is told the job id), when this returns `.job` the job is in the journal and will run even
    /// if the broker crashes or the machine loses power right after. Without it, the job's
    /// insert goes with the journal's next batch (see `run`).
    public func submit(_ transformation: Transformation, durable: Bool = true) async throws -> Submission {
        let submission = try await accept(transformation, durable: durable)
        // Joined a job that `run` journaled without an fsync (or one that ended while this
        // caller waited for an identical admission): this caller is told its id, so the job's
        // row is made durable first.
        guard durable, case .job(let id) = submission, active[id]?.durablyJournaled != true else { return submission }
        let rule = DurabilityPolicy.rule(for: .joinedWithIDTold, model: nil)
        try await journal.write(.touch(id, at: Self.now()), rule.durability)
        active[id]?.durablyJournaled = true
        return submission
    }

    private func accept(_ transformation: Transformation, durable: Bool) async throws -> Submission {
        if shuttingDown { throw BrokerError.shuttingDown }
        let tf = transformation.checksum
        if let id = jobForTransformation[tf] { return .job(id) }
        if admitting[tf] != nil {
            return try await withCheckedThrowingContinuation { admitting[tf]!.append($0) }
        }
        // Admitted in the caller's task, not one of its own (a thread wake-up per job saved):
        // nothing in `admit` stops for the caller's cancellation, so the waiters always get
        // an answer.
        admitting[tf] = []
        let result: Result<Submission, any Error>
        do {
            result = .success(try await admit(transformation, durable: durable))
        } catch {
            result = .failure(error)
        }
        for waiter in admitting.removeValue(forKey: tf) ?? [] { waiter.resume(with: result) }
        return try result.get()
    }

    private func admit(_ transformation: Transformation, durable: Bool) async throws -> Submission {
        let tf = transformation.checksum
        if let cached = try await cachedResult(for: tf) {
            logger.debug("cache hit", metadata: ["tf": "\(tf)", "result": "\(cached)"])
            return .cached(cached)
        }
        let environment = try await resolveEnvironment(of: transformation)
        let traits = Self.traits(of: transformation, environment: environment)
        // A job journaled runs again after every restart: refuse what can only fail first.
        try await JobAdmission.check(transformation, traits: traits, matcher: matcher, buffers: buffers)
        let request = JobRequest(transformation: transformation).journalBytes()
        let rule = DurabilityPolicy.rule(for: durable ? .acceptedWithIDTold : .acceptedForWaitingCaller, model: nil)
        let id = try await journal.insert(
            transformation: tf, language: transformation.language, request: request, at: Self.now(),
            durability: rule.durability)
        let record = JobRecord(
            id: id, transformation: tf, state: .queued, language: transformation.language, createdAt: Self.now())
        enqueue(ActiveJob(
            record: record, transformation: transformation, environment: environment,
            traits: traits, durablyJournaled: durable))
        // Debug, not info: the end's line ("job succeeded", "job ended") names the job, its
        // transformation and handler already, and a second line per job costs a formatted
        // write on the request's thread.
        logger.debug("job accepted", metadata: ["job": "\(id)", "tf": "\(tf)", "language": "\(transformation.language)"])
        dispatch()
        return .job(id)
    }

    /// Waits for a job to end. For a job that ended before, answers from the journal.
    /// Cancelling the waiting task stops the wait, not the job.
    public func wait(_ id: JobID) async throws -> JobOutcome {
        if active[id] != nil {
            nextWaiterToken += 1
            let token = nextWaiterToken
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    if Task.isCancelled || active[id] == nil {
                        continuation.resume(throwing: CancellationError())
                    } else {
                        active[id]!.waiters[token] = continuation
                    }
                }
            } onCancel: {
                Task { await self.dropWaiter(id, token) }
            }
        }
        guard let record = try await record(id), let outcome = JobOutcome(finished: record) else {
            throw BrokerError.unknownJob(id)
        }
        return outcome
    }

    private func dropWaiter(_ id: JobID, _ token: Int) {
        active[id]?.waiters.removeValue(forKey: token)?.resume(throwing: CancellationError())
    }

    /// Cancels a job: a queued one ends at once, a running one once its backend has stopped
    /// everything it started. Returns false for a job that had already ended.
    @discardableResult
    public func cancel(_ id: JobID) -> Bool {
        guard var job = active[id], !job.cancelRequested else { return false }
        job.cancelRequested = true
        active[id] = job
        logger.info("cancel requested", metadata: ["job": "\(id)", "state": "\(job.record.state.rawValue)"])
        if let task = job.task {
            task.cancel()
        } else {
            queue.removeAll { $0 == id }
            Task { await self.finish(id, .cancelled(reason: "cancelled before it started")) }
        }
        return true
    }

    @discardableResult
    public func cancel(transformation: Checksum) -> Bool {
        guard let id = jobForTransformation[transformation] else { return false }
        return cancel(id)
    }

    /// The record of a job, live if it is running, from the journal otherwise.
    public func record(_ id: JobID) async throws -> JobRecord? {
        if let job = active[id] { return job.record }
        if let record = endedNotJournaled[id] { return record }
        return try await journal.record(id)
    }

    /// The journal's records, with what the broker knows better: intermediate states are
    /// journaled lazily and an end is answered before its commit, so for live and just-ended
    /// jobs the memory is newer than the journal.
    public func list(_ filter: JobFilter) async throws -> [JobRecord] {
        // Memory is read before the journal: while the read runs, a job may end and its end
        // be committed, taking it out of memory; a snapshot taken after the read would then
        // miss a job the read came too early for (a batched insert not committed yet).
        let remembered = active.values.map(\.record) + endedNotJournaled.values
        let journaled = try await journal.list(filter)
        var byID: [JobID: JobRecord] = [:]
        for record in journaled { byID[record.id] = record }
        for record in remembered where byID[record.id].map({ $0.updatedAt <= record.updatedAt }) ?? true {
            byID[record.id] = record
        }
        let fresh = byID.values.filter(filter.matches).sorted { $0.id > $1.id }
        return Array(fresh.prefix(filter.limit))
    }

    /// Forgets the records of jobs that ended before `time` (seconds since 1970): the journal's
    /// retention, run by the housekeeping. Returns how many went.
    @discardableResult
    public func removeEndedJobs(before time: Double) async throws -> Int {
        try await journal.removeEnded(before: time)
    }

    /// Sets the journal's disk reserve aside again after a full disk used it.
    public func restoreJournalReserve() async -> Bool {
        await journal.restoreReserve()
    }

    /// The live job for a transformation, if one runs it now.
    public func activeJob(for transformation: Checksum) -> JobRecord? {
        jobForTransformation[transformation].flatMap { active[$0]?.record }
    }

    /// How many jobs are queued and running, per handler.
    public func load() -> (queued: Int, running: [String: Int]) {
        (queue.count, runningPerHandler)
    }

    public func cachedResult(for tf: Checksum) async throws -> Checksum? {
        guard let result = try await results.result(for: tf) else { return nil }
        // A cache entry whose buffer is gone is no answer: the job must run again.
        guard try await buffers.has([result]).first == true else {
            logger.warning("cached result buffer missing; running again", metadata: ["tf": "\(tf)", "result": "\(result)"])
            return nil
        }
        return result
    }

    // MARK: - Lifecycle

    /// How many broker starts in a row may find a job unfinished before recovery fails it
    /// instead of running it again: a job that brings the broker down, however it does, must
    /// not keep it down. Not lower: a broker killed a few times in a row for other reasons
    /// (an admin, the OOM killer) must not fail the jobs that were merely in flight.
    public static let recoveryLimit = 5

    /// Picks up where the last broker process stopped: every job the journal holds that had not
    /// ended is queued again (or answered from the cache if its result was stored before the
    /// crash). Call once before serving.
    ///
    /// No job can keep the broker from starting: one whose row cannot be read, whose request
    /// cannot be parsed or does not match its transformation, or whose recovery fails in any
    /// other way ends as failed with the reason, and the others are recovered; one that was in
    /// flight at `recoveryLimit` crashes in a row fails without running (the poison-job guard).
    public func recover() async throws {
        removeWorkOfLostJobs()
        let candidates = try await journal.beginRecovery()
        guard !candidates.isEmpty else { return }
        logger.notice("recovering unfinished jobs", metadata: ["count": "\(candidates.count)"])
        for candidate in candidates {
            switch candidate {
            case .unreadable(let id, let reason):
                logger.error("a journaled job cannot be read back; it fails", metadata: ["job": "\(id)", "error": "\(reason)"])
                await stopLeftovers(of: id, externalID: nil, handler: nil)
                do {
                    let rule = DurabilityPolicy.rule(for: .unreadableOnRecovery, model: nil)
                    try await journal.write(
                        .failUnreadable(
                            id, error: "cannot be run again after a restart: its journal entry cannot be read (\(reason))",
                            at: Self.now()),
                        rule.durability)
                } catch {
                    logger.error("could not journal the failure of an unreadable job", metadata: ["job": "\(id)", "error": "\(error)"])
                }
            case .readable(let record, let request, let recoveries):
                do {
                    try await recoverJob(record, request: request, recoveries: recoveries)
                } catch {
                    logger.error("a journaled job cannot be recovered; it fails", metadata: ["job": "\(record.id)", "error": "\(error)"])
                    active[record.id] = nil
                    queue.removeAll { $0 == record.id }
                    if jobForTransformation[record.transformation] == record.id { jobForTransformation[record.transformation] = nil }
                    await stopLeftovers(of: record.id, externalID: record.externalID, handler: record.handler)
                    do {
                        let rule = DurabilityPolicy.rule(for: .unreadableOnRecovery, model: nil)
                        try await journal.write(
                            .failUnreadable(record.id, error: "cannot be run again after a restart: \(error)", at: Self.now()),
                            rule.durability)
                    } catch {
                        logger.error("could not journal the failure of a job", metadata: ["job": "\(record.id)", "error": "\(error)"])
                    }
                }
            }
        }
        dispatch()
    }

    private func recoverJob(_ stored: JobRecord, request: [UInt8], recoveries: Int) async throws {
        var record = stored
        guard recoveries <= Self.recoveryLimit else {
            logger.error(
                "a job was in flight at every one of the last broker crashes; it fails instead of running again",
                metadata: ["job": "\(record.id)", "tf": "\(record.transformation)", "crashes": "\(recoveries)"])
            await stopLeftovers(of: record.id, externalID: record.externalID, handler: record.handler)
            try await endRecovered(
                record, .failed,
                error: "the broker stopped without a graceful shutdown \(recoveries) times in a row while this job was "
                    + "queued or running; it is not run again, so that it cannot keep the broker down. Submit it again "
                    + "to retry, and look for the cause in the broker's log.")
            return
        }
        let transformation: Transformation
        let environment: TransformationEnvironment?
        do {
            transformation = try JobRequest.fromJournal(request, hash: settings.hash).transformation
            guard transformation.checksum == record.transformation else {
                throw BrokerError.journalMismatch(
                    "its request is transformation \(transformation.checksum), its journal row says \(record.transformation)")
            }
            environment = try await resolveEnvironment(of: transformation)
        } catch {
            await stopLeftovers(of: record.id, externalID: record.externalID, handler: record.handler)
            try await endRecovered(record, .failed, error: "cannot be run again after a restart: \(error)")
            return
        }
        if let result = try await cachedResult(for: record.transformation) {
            // The crash came after the result was stored but before the job's end was journaled.
            record.result = result
            try await endRecovered(record, .succeeded)
            return
        }
        if record.attempts >= settings.maxAttempts {
            // Each run ended without its end reaching the journal: running it again would
            // do the same (a job that fills the disk holding the journal, at every start).
            await stopLeftovers(of: record.id, externalID: record.externalID, handler: record.handler)
            try await endRecovered(record, .failed, error:
                "the job ran \(record.attempts) times and the broker never recorded its end (it stopped, crashed, "
                + "or could not write its journal \(journal.path): is that disk full?); it is not run again. "
                + "Submit it again to retry.")
            return
        }
        if jobForTransformation[record.transformation] != nil {
            // Only a journal written before per-transformation dedup existed can hold two.
            try await endRecovered(record, .cancelled, error: "duplicate of a recovered job for the same transformation")
            return
        }
        // A backend whose executions outlive the broker (Slurm) is followed, not re-run: the
        // job resumes from its work directory and journaled external id (empty when the
        // crash came between submission and journal: the backend then finds it by name).
        if let handler = handlers.first(where: { $0.name == record.handler }), handler.backend.recoveryModel.reattaches,
            record.state == .running || record.state == .collecting, let workDirectory = record.workDirectory
        {
            if record.state == .collecting {
                // Collecting starts over; the backend says again how the execution ended.
                record.state = .running
                record.updatedAt = Self.now()
                try await journalRecord(record, at: .reattachedOnRecovery)
            }
            let job = ActiveJob(
                record: record, transformation: transformation, environment: environment,
                traits: Self.traits(of: transformation, environment: environment))
            active[record.id] = job
            jobForTransformation[record.transformation] = record.id
            logger.notice("re-attaching to a job that outlived the broker", metadata: ["job": "\(record.id)", "external": "\(record.externalID ?? "-")"])
            start(record.id, on: handler, resuming: JobExecution.ResumePoint(externalID: record.externalID ?? "", workDirectory: workDirectory))
            return
        }
        if let externalID = record.externalID, let handler = handlers.first(where: { $0.name == record.handler }) {
            await handler.backend.abandon(externalID: externalID)
            record.externalID = nil
        }
        if record.state != .queued {
            logger.info(
                "job was interrupted; it runs again",
                metadata: ["job": "\(record.id)", "state": "\(record.state.rawValue)"])
            record.state = .queued
            record.updatedAt = Self.now()
            try await journalRecord(record, at: .requeuedOnRecovery)
        }
        enqueue(ActiveJob(
            record: record, transformation: transformation, environment: environment,
            traits: Self.traits(of: transformation, environment: environment)))
    }

    /// Jobs whose batched insert the last broker process never committed (it died within the
    /// batch window) are unknown to the journal, but may have started: their ids are the ones
    /// it had reserved past its last row (`JobJournal.unjournaledIDs`), and their directories
    /// carry those ids. What runs there is stopped and the directories go; nobody was told of
    /// these jobs but the callers whose requests failed with the broker.
    private func removeWorkOfLostJobs() {
        guard let lost = journal.unjournaledIDs,
              let names = try? FileManager.default.contentsOfDirectory(atPath: settings.workRoot)
        else { return }
        for name in names {
            guard let id = WorkDirectory.jobID(inName: name).flatMap({ JobID($0) })?.rawValue, lost.contains(id)
            else { continue }
            let path = settings.workRoot + "/" + name
            let killed = LeftoverProcesses.kill(workingUnder: path)
            logger.notice(
                "removing the work directory of a job whose journal entry a crash lost",
                metadata: ["job": "\(id)", "path": "\(path)", "stopped_pids": "\(killed)"])
            JobExecution.removeWorkDirectory(path, logger: logger)
        }
    }

    /// Stops what an interrupted attempt of a job that recovery fails left running: the
    /// processes working in its directories (found by the job id in their names, since the
    /// journal may not have the directory) and its journaled execution. The directories stay
    /// for inspection; the janitor's sweep takes them like any failed job's.
    private func stopLeftovers(of id: JobID, externalID: String?, handler: String?) async {
        if let externalID, let backend = handlers.first(where: { $0.name == handler })?.backend {
            await backend.abandon(externalID: externalID)
        }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: settings.workRoot) else { return }
        for name in names where WorkDirectory.jobID(inName: name) == id.description {
            let path = settings.workRoot + "/" + name
            let killed = LeftoverProcesses.kill(workingUnder: path)
            if !killed.isEmpty {
                logger.notice("stopped processes a failed job's interrupted attempt left running", metadata: ["job": "\(id)", "pids": "\(killed)"])
            }
            try? WorkDirectory(path: path).markKept(reason: "recovery failed this job")
        }
    }

    private func endRecovered(_ record: JobRecord, _ state: JobState, error: String? = nil) async throws {
        var record = record
        record.state = state
        record.error = error
        record.finishedAt = Self.now()
        record.updatedAt = Self.now()
        try await journalRecord(record, at: .endedOnRecovery)
    }

    /// Stops taking jobs and cancels the running ones' processes. Queued and running jobs stay
    /// in the journal as they are, so the next start runs them.
    public func shutdown() async {
        shuttingDown = true
        stopping.set()
        let tasks = active.values.compactMap(\.task)
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
        do {
            try await journal.commitPending()
            // The jobs left unfinished were stopped by this stop, not by a crash: they do not
            // count towards the poison-job guard (`recoveryLimit`).
            try await journal.forgetRecoveries()
        } catch {
            logger.error("could not journal the last jobs' states", metadata: ["error": "\(error)"])
        }
        do {
            try await results.commitPending()
        } catch {
            logger.error("could not commit the last stored results; their transformations will run again", metadata: ["error": "\(error)"])
        }
    }

    // MARK: - Scheduling

    private func enqueue(_ job: ActiveJob) {
        active[job.record.id] = job
        jobForTransformation[job.record.transformation] = job.record.id
        queue.append(job.record.id)
    }

    /// Starts every queued job that has a handler with room, oldest first.
    private func dispatch() {
        guard !shuttingDown, !queue.isEmpty else { return }
        var waiting: [JobID] = []
        for (position, id) in queue.enumerated() {
            if !handlers.contains(where: { runningPerHandler[$0.name, default: 0] < $0.config.limits.maxJobs }) {
                // Every handler is full: nothing further down the queue can start either.
                waiting.append(contentsOf: queue[position...])
                break
            }
            guard let job = active[id] else { continue }
            let candidates = matcher.candidateIndices(job.traits)
            if candidates.isEmpty {
                let reasons = matcher.explain(job.traits).map { "  \($0.handler.name): \($0.reason)" }
                Task {
                    await self.finish(
                        id,
                        .failed(
                            "no job handler accepts this job (\(job.traits.summary)):\n" + reasons.joined(separator: "\n"),
                            .none))
                }
                continue
            }
            // The matcher was built from `handlers` in order, so its indices are ours.
            guard
                let handler = candidates.lazy.map({ self.handlers[$0] })
                    .first(where: { self.runningPerHandler[$0.name, default: 0] < $0.config.limits.maxJobs })
            else {
                waiting.append(id)
                continue
            }
            start(id, on: handler)
        }
        queue = waiting
    }

    private func start(_ id: JobID, on handler: HandlerRuntime, resuming: JobExecution.ResumePoint? = nil) {
        guard var job = active[id] else { return }
        runningPerHandler[handler.name, default: 0] += 1
        job.record.handler = handler.name
        if resuming == nil {
            // A re-attached job goes on with the attempt it started before the restart.
            job.record.attempts += 1
            job.record.startedAt = Self.now()
        }
        var context = JobContext(
            jobID: id.description, transformation: job.transformation, environment: job.environment,
            handler: handler.config, buffers: buffers, workRoot: settings.workRoot, environments: settings.environments,
            logger: jobLogger(id, job.record.transformation, handler: handler.name))
        context.recordsExecution = handler.backend.recoveryModel.reattaches
        // A local job's processes outlive a kill -9 of the broker and may finish meanwhile:
        // its exit status, left in its directory, lets recovery collect it (`JobExecution`).
        context.recordsExitStatus = handler.backend.recoveryModel == .rerunFoundByWorkDirectory
        context.maxResultBytes = settings.maxResultBytes
        // A job run again after a crash starts from a clean slate: its previous attempt's work
        // directory (same name) goes first.
        let previousWorkDirectory = job.record.workDirectory
        job.task = Task { [buffers, results, settings, stopping] in
            let execution = JobExecution(
                id: id, handler: handler, context: context, buffers: buffers, results: results, settings: settings,
                progress: self, stopping: stopping, previousWorkDirectory: previousWorkDirectory, resumePoint: resuming)
            let ending = await execution.run()
            await self.finish(id, ending)
            // After the answer, not before: emptying a directory is file-system work that no
            // client needs to wait for.
            if case .succeeded(_, _, let workDirectory) = ending {
                WorkDirectory(path: workDirectory).recycle()
            }
        }
        active[id] = job
    }

    /// One assignment of the handler's metadata, not one per key: swift-log's stream handler
    /// re-renders its whole metadata text at every assignment, for every job.
    private func jobLogger(_ id: JobID, _ tf: Checksum, handler: String) -> Logger {
        var logger = self.logger
        logger.handler.metadata.merge(["job": "\(id)", "tf": "\(tf)", "handler": "\(handler)"]) { $1 }
        return logger
    }

    // MARK: - Progress (reported by JobExecution)

    /// Moves a running job on as its execution reports, and journals it as the durability
    /// policy says. Throws if the move is illegal, which would be a bug in the execution
    /// pipeline.
    func report(_ progress: JobProgress, of id: JobID) async throws {
        switch progress {
        case .preparing:
            try await advance(id, to: .preparing, as: .preparing)
        case .running(let workDirectory):
            try await advance(id, to: .running, as: .running) { $0.workDirectory = workDirectory }
        case .externalID(let externalID):
            guard active[id] != nil else { return }
            active[id]!.record.externalID = externalID
            active[id]!.record.updatedAt = Self.now()
            try await journalRecord(active[id]!.record, at: .externalIDReported)
        case .collecting(let tails):
            try await advance(id, to: .collecting, as: .collecting) {
                $0.stdoutTail = tails.stdout
                $0.stderrTail = tails.stderr
            }
        case .unjournaledAttemptFound:
            // It ran: `attempts` says so with the job's next journal write.
            active[id]?.record.attempts += 1
        case .collectingFinishedAttempt(let workDirectory):
            // The attempt `start` counted did not run: an earlier one that had finished is collected.
            if let attempts = active[id]?.record.attempts, attempts > 0 { active[id]?.record.attempts = attempts - 1 }
            try await advance(id, to: .preparing, as: .preparing)
            try await advance(id, to: .running, as: .collectedAttemptRunning) { $0.workDirectory = workDirectory }
        case .reattachAbandoned:
            try await advance(id, to: .queued, as: .reattachAbandoned)
        }
    }

    private func advance(
        _ id: JobID, to state: JobState, as event: JobEvent, update: (inout JobRecord) -> Void = { _ in }
    ) async throws {
        guard var job = active[id] else { throw BrokerError.unknownJob(id) }
        guard job.record.state.canMove(to: state) else {
            throw IllegalTransition(from: job.record.state, to: state, jobID: id.description)
        }
        job.record.state = state
        job.record.updatedAt = Self.now()
        update(&job.record)
        active[id] = job
        try await journalRecord(job.record, at: event)
    }

    /// Journals `record` as the durability policy says for `event` on the record's handler.
    private func journalRecord(_ record: JobRecord, at event: JobEvent) async throws {
        let rule = DurabilityPolicy.rule(for: event, model: recoveryModel(of: record.handler))
        switch rule.writes {
        case .nothing:
            return
        case .record, .newRow:
            // A new row is inserted where the job is admitted; any later rule writes the record.
            try await journal.write(.record(record), rule.durability)
        case .touch:
            try await journal.write(.touch(record.id, at: record.updatedAt), rule.durability)
        case .failure:
            try await journal.write(
                .failUnreadable(record.id, error: record.error ?? "", at: record.updatedAt), rule.durability)
        }
    }

    private func recoveryModel(of handler: String?) -> RecoveryModel? {
        guard let handler else { return nil }
        return handlers.first { $0.name == handler }?.backend.recoveryModel
    }

    private func finish(_ id: JobID, _ ending: JobEnding) async {
        guard var job = active.removeValue(forKey: id) else { return }
        if jobForTransformation[job.record.transformation] == id {
            jobForTransformation[job.record.transformation] = nil
        }
        if job.task != nil, let handler = job.record.handler {
            runningPerHandler[handler, default: 1] -= 1
        }
        queue.removeAll { $0 == id }
        let outcome: JobOutcome
        job.record.finishedAt = Self.now()
        job.record.updatedAt = Self.now()
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
            // The broker is shutting down: leave the journal as it is so the next start re-runs it.
            for waiter in job.waiters.values {
                waiter.resume(returning: JobOutcome(status: .cancelled, result: nil, error: "broker shutting down", record: job.record))
            }
            return
        }
        // Answer the waiters and start the next job before the commit: a crash before it
        // only means recovery finds the result in the cache (or runs a failed job again).
        // Until the end is durable, `record` and `wait` answer from `endedNotJournaled`.
        for waiter in job.waiters.values { waiter.resume(returning: outcome) }
        job.waiters = [:]
        endedNotJournaled[id] = job.record
        dispatch()
        do {
            try await journalRecord(job.record, at: .ended)
        } catch {
            logger.error("could not journal the end of a job", metadata: ["job": "\(id)", "error": "\(error)"])
        }
        endedNotJournaled[id] = nil
        let metadata: Logger.Metadata = [
            "job": "\(id)", "tf": "\(job.record.transformation)", "handler": "\(job.record.handler ?? "-")",
            "state": "\(job.record.state.rawValue)",
        ]
        if job.record.state == .succeeded {
            logger.info("job succeeded", metadata: metadata.merging(["result": "\(job.record.result!)"]) { $1 })
        } else {
            logger.info("job ended", metadata: metadata.merging(["error": "\(job.record.error ?? "")"]) { $1 })
        }
    }

    // MARK: - Helpers

    private func resolveEnvironment(of transformation: Transformation) async throws -> TransformationEnvironment? {
        guard let checksum = transformation.environmentChecksum else { return nil }
        let buffer: [UInt8]?
        do {
            buffer = try await buffers.get(checksum)
        } catch {
            throw BrokerError.environmentUnavailable(checksum, reason: "\(error)")
        }
        guard let buffer else {
            throw BrokerError.environmentUnavailable(checksum, reason: "the buffer is not in the store")
        }
        do {
            return try TransformationEnvironment(json: JSONParser.parse(buffer))
        } catch {
            throw BrokerError.environmentUnavailable(checksum, reason: "\(error)")
        }
    }

    static func traits(of transformation: Transformation, environment: TransformationEnvironment?) -> JobTraits {
        JobTraits(
            language: transformation.language, image: environment?.image,
            environment: environment?.environmentName)
    }

    static func now() -> Double { Date().timeIntervalSince1970 }
}
