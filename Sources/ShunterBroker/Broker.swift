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
/// The bookkeeping is a pure value, `BrokerStateMachine`: this actor feeds it events and
/// performs the actions it returns (journal writes, starting and cancelling executions,
/// answering waiters). The work of a job (buffers, processes, disk) runs outside the actor, as
/// a child of the task group of the broker's `run()`, and reports its progress to it
/// (`JobProgressSink`).
package actor Broker: JobProgressSink {
    private let settings: BrokerSettings
    private let buffers: any BufferStore
    private let results: any ResultStore
    private let journal: JobJournal
    private let handlers: [HandlerRuntime]
    private let logger: Logger

    private var machine: BrokerStateMachine<JobInput>
    /// Submissions being looked up or journaled, with the identical ones that wait for them.
    private var admitting: [Checksum: [CheckedContinuation<Submission, any Error>]] = [:]
    /// The callers waiting for a job's end, by the token the machine knows them by.
    private let waiters = JobWaiters()
    /// The end or cancellation of each started job, which its child of `run()` waits on.
    private var jobStops: [JobID: JobStop] = [:]
    /// What `run()` is asked to run: jobs, and actions that wait (journal writes), in order.
    private let runRequests: AsyncStream<RunRequest>
    private let runRequestsIn: AsyncStream<RunRequest>.Continuation
    private var runState = RunState.notStarted
    /// Callers of `shutdown` waiting for `run()` to end.
    private var stopWaiters: [CheckedContinuation<Void, Never>] = []
    /// Set when the broker stops, for the executions to read without asking the broker.
    private let stopping = StopSignal()

    /// What a job needs to start beyond its record.
    struct JobInput: Sendable {
        var transformation: Transformation
        var environment: TransformationEnvironment?
    }

    private typealias Action = BrokerStateMachine<JobInput>.Action

    private enum RunRequest: Sendable {
        case start(JobStart)
        case perform([Action])
    }

    private enum RunState {
        case notStarted, running, stopped
    }

    /// A job to start, with everything its execution needs.
    private struct JobStart: Sendable {
        let id: JobID
        let handler: HandlerRuntime
        let context: JobContext
        let previousWorkDirectory: String?
        let resuming: JobExecution.ResumePoint?
        let stop: JobStop
    }

    package init(
        settings: BrokerSettings, buffers: any BufferStore, results: any ResultStore, journal: JobJournal,
        handlers: [HandlerRuntime], logger: Logger
    ) {
        self.settings = settings
        self.buffers = buffers
        self.results = results
        self.journal = journal
        self.handlers = handlers
        self.logger = logger
        self.machine = BrokerStateMachine(handlers: handlers.map { ($0.config, $0.backend.recoveryModel) })
        (runRequests, runRequestsIn) = AsyncStream.makeStream(of: RunRequest.self)
    }

    // MARK: - Requests

    /// Answers a transformation: from the cache, by joining the job already running it, or by
    /// running a new job. Returns when it is done.
    ///
    /// The job's insert is not even committed before it starts (`submit(_:durable:)` with
    /// `durable: false`): the caller hears of the job only through its result, so the insert
    /// goes with the journal's next batch (`JobJournal.batchWindow`). A crash before that commit fails the
    /// caller's request with the broker, and recovery removes what the job had started
    /// (`recover`). That fsync was a large part of a trivial job's latency, and the commit of
    /// its own the largest part of the broker's CPU per job (docs/performance.md).
    package func run(_ transformation: Transformation) async throws -> JobOutcome {
        switch try await submit(transformation, durable: false) {
        case .cached(let result): return .cached(result)
        case .job(let id): return try await wait(id)
        }
    }

    /// Accepts a transformation without waiting for it. With `durable` (the default: the caller
    /// is told the job id), when this returns `.job` the job is in the journal and will run even
    /// if the broker crashes or the machine loses power right after. Without it, the job's
    /// insert goes with the journal's next batch (see `run`).
    package func submit(_ transformation: Transformation, durable: Bool = true) async throws -> Submission {
        let submission = try await accept(transformation, durable: durable)
        // Joined a job that `run` journaled without an fsync (or one that ended while this
        // caller waited for an identical admission): this caller is told its id, so the job's
        // row is made durable first.
        guard durable, case .job(let id) = submission, machine.needsDurableRow(id) else { return submission }
        let rule = machine.rule(for: .joinedWithIDTold, handler: nil)
        try await journal.write(.touch(id, at: Self.now()), rule.durability)
        machine.markedDurable(id)
        return submission
    }

    private func accept(_ transformation: Transformation, durable: Bool) async throws -> Submission {
        if machine.shuttingDown { throw BrokerError.shuttingDown }
        let tf = transformation.checksum
        if let id = machine.jobForTransformation[tf] { return .job(id) }
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
        try await JobAdmission.check(transformation, traits: traits, matcher: machine.matcher, buffers: buffers)
        let request = JobRequest(transformation: transformation).journalBytes()
        let rule = machine.rule(for: durable ? .acceptedWithIDTold : .acceptedForWaitingCaller, handler: nil)
        let id = try await journal.insert(
            transformation: tf, language: transformation.language, request: request, at: Self.now(),
            durability: rule.durability)
        let record = JobRecord(
            id: id, transformation: tf, state: .queued, language: transformation.language, createdAt: Self.now())
        let actions = machine.admitted(
            record, input: JobInput(transformation: transformation, environment: environment), traits: traits,
            durablyJournaled: durable, now: Self.now())
        // Debug, not info: the end's line ("job succeeded", "job ended") names the job, its
        // transformation and handler already, and a second line per job costs a formatted
        // write on the request's thread.
        logger.debug(
            "job accepted", metadata: ["job": "\(id)", "tf": "\(tf)", "language": "\(transformation.language)"])
        performSoon(actions)
        return .job(id)
    }

    /// Waits for a job to end. For a job that ended before, answers from the journal.
    /// Cancelling the waiting task stops the wait, not the job.
    package func wait(_ id: JobID) async throws -> JobOutcome {
        if machine.active[id] != nil {
            let token = machine.newWaiterToken()
            let waiters = self.waiters
            defer { waiters.forget(token) }
            do {
                return try await withTaskCancellationHandler {
                    try await withCheckedThrowingContinuation { continuation in
                        if Task.isCancelled || !machine.waiterAdded(token, to: id) || !waiters.add(token, continuation)
                        {
                            continuation.resume(throwing: CancellationError())
                        }
                    }
                } onCancel: {
                    // Answered here and now; the machine forgets the waiter once the wait is
                    // back on the actor.
                    waiters.cancel(token)
                }
            } catch {
                _ = machine.waiterDropped(token, from: id)
                throw error
            }
        }
        guard let record = try await record(id), let outcome = JobOutcome(finished: record) else {
            throw BrokerError.unknownJob(id)
        }
        return outcome
    }

    /// Cancels a job: a queued one ends at once, a running one once its backend has stopped
    /// everything it started. Returns false for a job that had already ended.
    @discardableResult
    package func cancel(_ id: JobID) -> Bool {
        let state = machine.active[id]?.record.state
        let (accepted, actions) = machine.cancelRequested(id, now: Self.now())
        guard accepted else { return false }
        logger.info("cancel requested", metadata: ["job": "\(id)", "state": "\(state?.rawValue ?? "-")"])
        performSoon(actions)
        return true
    }

    @discardableResult
    package func cancel(transformation: Checksum) -> Bool {
        guard let id = machine.jobForTransformation[transformation] else { return false }
        return cancel(id)
    }

    /// The record of a job, live if it is running, from the journal otherwise.
    package func record(_ id: JobID) async throws -> JobRecord? {
        if let record = machine.record(id) { return record }
        return try await journal.record(id)
    }

    /// The journal's records, with what the broker knows better: intermediate states are
    /// journaled lazily and an end is answered before its commit, so for live and just-ended
    /// jobs the memory is newer than the journal.
    package func list(_ filter: JobFilter) async throws -> [JobRecord] {
        // Memory is read before the journal: while the read runs, a job may end and its end
        // be committed, taking it out of memory; a snapshot taken after the read would then
        // miss a job the read came too early for (a batched insert not committed yet).
        let remembered = machine.rememberedRecords
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
    package func removeEndedJobs(before time: Double) async throws -> Int {
        try await journal.removeEnded(before: time)
    }

    /// Sets the journal's disk reserve aside again after a full disk used it.
    package func restoreJournalReserve() async -> Bool {
        await journal.restoreReserve()
    }

    /// The live job for a transformation, if one runs it now.
    package func activeJob(for transformation: Checksum) -> JobRecord? {
        machine.jobForTransformation[transformation].flatMap { machine.active[$0]?.record }
    }

    /// How many jobs are queued and running, per handler.
    package func journalStatistics() async throws -> JournalStatistics {
        try await journal.statistics()
    }

    package func load() -> (queued: Int, running: [String: Int]) {
        (machine.queue.count, machine.runningPerHandler)
    }

    package func cachedResult(for tf: Checksum) async throws -> Checksum? {
        guard let result = try await results.result(for: tf) else { return nil }
        // A cache entry whose buffer is gone is no answer: the job must run again.
        guard try await buffers.has([result]).first == true else {
            logger.warning(
                "cached result buffer missing; running again", metadata: ["tf": "\(tf)", "result": "\(result)"])
            return nil
        }
        return result
    }

    // MARK: - Lifecycle

    /// How many broker starts in a row may find a job unfinished before recovery fails it
    /// instead of running it again: a job that brings the broker down, however it does, must
    /// not keep it down. Not lower: a broker killed a few times in a row for other reasons
    /// (an admin, the OOM killer) must not fail the jobs that were merely in flight.
    package static let recoveryLimit = 5

    /// Picks up where the last broker process stopped: every job the journal holds that had not
    /// ended is queued again (or answered from the cache if its result was stored before the
    /// crash). Call once before serving.
    ///
    /// No job can keep the broker from starting: one whose row cannot be read, whose request
    /// cannot be parsed or does not match its transformation, or whose recovery fails in any
    /// other way ends as failed with the reason, and the others are recovered; one that was in
    /// flight at `recoveryLimit` crashes in a row fails without running (the poison-job guard).
    package func recover() async throws {
        removeWorkOfLostJobs()
        let candidates = try await journal.beginRecovery()
        guard !candidates.isEmpty else { return }
        logger.notice("recovering unfinished jobs", metadata: ["count": "\(candidates.count)"])
        let limits = BrokerStateMachine<JobInput>.RecoveryLimits(
            recoveries: Self.recoveryLimit, attempts: settings.maxAttempts, journalPath: journal.path)
        for candidate in candidates {
            switch candidate {
            case .unreadable(let id, let reason):
                logger.error(
                    "a journaled job cannot be read back; it fails", metadata: ["job": "\(id)", "error": "\(reason)"])
                let actions = machine.unreadable(
                    id, externalID: nil, handler: nil,
                    reason: "cannot be run again after a restart: its journal entry cannot be read (\(reason))",
                    now: Self.now())
                do {
                    try await perform(actions)
                } catch {
                    logger.error(
                        "could not journal the failure of an unreadable job",
                        metadata: ["job": "\(id)", "error": "\(error)"])
                }
            case .readable(let record, let request, let recoveries):
                if recoveries > Self.recoveryLimit {
                    logger.error(
                        "a job was in flight at every one of the last broker crashes; it fails instead of running again",
                        metadata: ["job": "\(record.id)", "tf": "\(record.transformation)", "crashes": "\(recoveries)"])
                }
                let input = await readBack(record, request: request)
                let cached: Result<Checksum?, any Error>
                if case .success = input {
                    do { cached = .success(try await cachedResult(for: record.transformation)) } catch {
                        cached = .failure(error)
                    }
                } else {
                    cached = .success(nil)
                }
                let actions = machine.recovered(
                    .init(record: record, recoveries: recoveries, input: input, cachedResult: cached), limits: limits,
                    now: Self.now())
                do {
                    try await perform(actions, recovering: record)
                } catch {
                    logger.error(
                        "a journaled job cannot be recovered; it fails",
                        metadata: ["job": "\(record.id)", "error": "\(error)"])
                    do {
                        try await perform(
                            machine.recoveryFailed(
                                record, reason: "cannot be run again after a restart: \(error)", now: Self.now()))
                    } catch {
                        logger.error(
                            "could not journal the failure of a job",
                            metadata: ["job": "\(record.id)", "error": "\(error)"])
                    }
                }
            }
        }
        performSoon(machine.recoveryFinished(now: Self.now()))
    }

    /// A journaled job's transformation and environment, read back from its request.
    private func readBack(_ record: JobRecord, request: [UInt8]) async -> Result<(JobInput, JobTraits), any Error> {
        do {
            let transformation = try JobRequest.fromJournal(request, hash: settings.hash).transformation
            guard transformation.checksum == record.transformation else {
                throw BrokerError.journalMismatch(
                    "its request is transformation \(transformation.checksum), its journal row says \(record.transformation)"
                )
            }
            let environment = try await resolveEnvironment(of: transformation)
            return .success(
                (
                    JobInput(transformation: transformation, environment: environment),
                    Self.traits(of: transformation, environment: environment)
                ))
        } catch {
            return .failure(error)
        }
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
                logger.notice(
                    "stopped processes a failed job's interrupted attempt left running",
                    metadata: ["job": "\(id)", "pids": "\(killed)"])
            }
            try? WorkDirectory(path: path).markKept(reason: "recovery failed this job")
        }
    }

    /// Runs the broker's jobs, and its journal's commits (`JobJournal.run`), until it stops
    /// (`shutdown`, or the cancellation of the calling task): every job runs as a child of
    /// this function's task group, so that a stop waits for all of them before the journal's
    /// last commit. Call once, after `recover`; jobs admitted or recovered before it runs
    /// start when it does. The process's service group runs it (`BrokerService`).
    package func run() async {
        switch runState {
        case .notStarted:
            break
        case .running:
            logger.error("the broker's run() is already running: a second one returns at once")
            return
        case .stopped:
            // Stopped before it ran: nothing to run.
            return
        }
        runState = .running
        await withDiscardingTaskGroup { service in
            service.addTask { await self.journal.run() }
            await withDiscardingTaskGroup { jobs in
                for await request in runRequests {
                    switch request {
                    case .start(let job):
                        jobs.addTask { await self.execute(job) }
                    case .perform(let actions):
                        jobs.addTask { await self.performLogged(actions) }
                    }
                }
                // Ends at `shutdown` (the requests' stream is finished), or when this task is
                // cancelled; the group then waits for every job's child.
            }
            await finishStop()
            // After the last commit: the journal's loops end.
            service.cancelAll()
        }
        runState = .stopped
        for waiter in stopWaiters { waiter.resume() }
        stopWaiters = []
    }

    /// Stops taking jobs and cancels the running ones' processes; returns once they have
    /// stopped and the journal is committed. Queued and running jobs stay in the journal as
    /// they are, so the next start runs them.
    package func shutdown() async {
        beginStop()
        runRequestsIn.finish()
        switch runState {
        case .notStarted:
            // Nothing ran: the actions that waited for `run()` are performed here (jobs are
            // not started), and what there is to commit is committed.
            runState = .stopped
            for await request in runRequests {
                if case .perform(let actions) = request { await performLogged(actions) }
            }
            await finishStop()
        case .running:
            await withCheckedContinuation { stopWaiters.append($0) }
        case .stopped:
            return
        }
    }

    private func beginStop() {
        guard !machine.shuttingDown else { return }
        let actions = machine.shutdown()
        stopping.set()
        performSoon(actions)
    }

    /// The end of a stop, once no job runs any more.
    private func finishStop() async {
        beginStop()
        // Jobs whose start `run()` never took (it was cancelled, or never ran): their waiters
        // are answered as those of a stopped job.
        for id in jobStops.keys.sorted(by: { $0.rawValue < $1.rawValue }) { await executionEnded(id, .interrupted) }
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
            logger.error(
                "could not commit the last stored results; their transformations will run again",
                metadata: ["error": "\(error)"])
        }
    }

    // MARK: - Actions

    /// Performs `actions` in order; throws when a journal write it waits for fails (an end's
    /// failure is logged, not thrown: the job has been answered already).
    private func perform(_ actions: [Action], recovering: JobRecord? = nil) async throws {
        for action in actions {
            if performNow(action, recovering: recovering) { continue }
            switch action {
            case .journal(let write, let durability, _):
                try await journal.write(write, durability)
            case .journalEnd(let record, let durability):
                await journalEnd(record, durability)
            case .stopLeftovers(let id, let externalID, let handler):
                await stopLeftovers(of: id, externalID: externalID, handler: handler)
            case .abandon(let externalID, let handler):
                await handlers.first { $0.name == handler }?.backend.abandon(externalID: externalID)
            case .start, .answer, .cancelTask:
                break
            }
        }
    }

    /// Performs the actions that need no waiting now, and the rest, in order, in a task of
    /// their own: for events that cannot wait (a cancel, an admission's dispatch).
    private func performSoon(_ actions: [Action]) {
        var rest = actions[...]
        while let action = rest.first, performNow(action) { rest = rest.dropFirst() }
        guard !rest.isEmpty else { return }
        if case .terminated = runRequestsIn.yield(.perform(Array(rest))) {
            logger.warning(
                "a job's change after the broker stopped is not journaled", metadata: ["actions": "\(rest.count)"])
        }
    }

    private func performLogged(_ actions: [Action]) async {
        do {
            try await perform(actions)
        } catch {
            logger.error("could not journal a job's change", metadata: ["error": "\(error)"])
        }
    }

    /// Performs `action` if it needs no waiting; false otherwise.
    private func performNow(_ action: Action, recovering: JobRecord? = nil) -> Bool {
        switch action {
        case .start(let id, let handler, let input, let record, let resuming):
            if resuming != nil {
                logger.notice(
                    "re-attaching to a job that outlived the broker",
                    metadata: ["job": "\(id)", "external": "\(record.externalID ?? "-")"])
            }
            start(id, on: handlers[handler], input: input, record: record, resuming: resuming)
        case .answer(let tokens, let outcome):
            for token in tokens { waiters.answer(token, with: outcome) }
        case .cancelTask(let id):
            jobStops[id]?.cancel()
        case .journal(_, _, event: .requeuedOnRecovery):
            if let recovering {
                logger.info(
                    "job was interrupted; it runs again",
                    metadata: ["job": "\(recovering.id)", "state": "\(recovering.state.rawValue)"])
            }
            return false
        case .journal, .journalEnd, .stopLeftovers, .abandon:
            return false
        }
        return true
    }

    private func start(
        _ id: JobID, on handler: HandlerRuntime, input: JobInput, record: JobRecord, resuming: JobExecution.ResumePoint?
    ) {
        var context = JobContext(
            jobID: id.description, transformation: input.transformation, environment: input.environment,
            handler: handler.config, buffers: buffers, workRoot: settings.workRoot, environments: settings.environments,
            logger: jobLogger(id, record.transformation, handler: handler.name))
        context.recordsExecution = handler.backend.recoveryModel.reattaches
        // A local job's processes outlive a kill -9 of the broker and may finish meanwhile:
        // its exit status, left in its directory, lets recovery collect it (`JobExecution`).
        context.recordsExitStatus = handler.backend.recoveryModel == .rerunFoundByWorkDirectory
        context.maxResultBytes = settings.maxResultBytes
        // A job run again after a crash starts from a clean slate: its previous attempt's work
        // directory (same name) goes first.
        let stop = JobStop()
        jobStops[id] = stop
        let job = JobStart(
            id: id, handler: handler, context: context, previousWorkDirectory: record.workDirectory, resuming: resuming,
            stop: stop)
        if case .terminated = runRequestsIn.yield(.start(job)) {
            // A stopped broker's machine starts nothing: this would be a bug. The job's
            // waiters are answered by the stop (`finishStop`).
            logger.error("a job was started after the broker stopped", metadata: ["job": "\(id)"])
        }
    }

    /// One job, as a child of `run()`'s task group: its execution runs in a group of its own,
    /// so that a cancel request (`JobStop`) cancels it alone.
    private nonisolated func execute(_ job: JobStart) async {
        let execution = JobExecution(
            id: job.id, handler: job.handler, context: job.context, buffers: buffers, results: results,
            settings: settings,
            progress: self, stopping: stopping, previousWorkDirectory: job.previousWorkDirectory,
            resumePoint: job.resuming)
        var ending = await withTaskGroup(of: JobEnding.self) { group in
            group.addTask {
                let ending = await execution.run()
                job.stop.executionEnded()
                return ending
            }
            await job.stop.wait()
            if job.stop.cancelRequested { group.cancelAll() }
            return await group.next() ?? .interrupted
        }
        // Cancelled with the broker's `run()` (its service group was cancelled), not by a
        // request: the broker is stopping, and the job runs again at the next start.
        if Task.isCancelled, !job.stop.cancelRequested {
            if case .succeeded = ending {} else { ending = .interrupted }
        }
        await executionEnded(job.id, ending)
        // After the answer, not before: emptying a directory is file-system work that no
        // client needs to wait for.
        if case .succeeded(_, _, let workDirectory) = ending {
            WorkDirectory(path: workDirectory).recycle()
        }
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
    /// pipeline, or if the journal write the report waits for fails.
    func report(_ progress: JobProgress, of id: JobID) async throws {
        try await perform(machine.progress(progress, of: id, now: Self.now()))
    }

    private func executionEnded(_ id: JobID, _ ending: JobEnding) async {
        guard jobStops.removeValue(forKey: id) != nil else { return }
        do {
            try await perform(machine.ended(id, ending, now: Self.now()))
        } catch {
            logger.error("could not journal a job's change", metadata: ["job": "\(id)", "error": "\(error)"])
        }
    }

    /// Journals a job's end; memory forgets it once the journal has it.
    private func journalEnd(_ record: JobRecord, _ durability: JournalDurability) async {
        do {
            try await journal.write(.record(record), durability)
        } catch {
            logger.error("could not journal the end of a job", metadata: ["job": "\(record.id)", "error": "\(error)"])
        }
        machine.endJournaled(record.id)
        let metadata: Logger.Metadata = [
            "job": "\(record.id)", "tf": "\(record.transformation)", "handler": "\(record.handler ?? "-")",
            "state": "\(record.state.rawValue)",
        ]
        if record.state == .succeeded {
            logger.info(
                "job succeeded",
                metadata: metadata.merging(["result": "\(record.result.map { "\($0)" } ?? "-")"]) { $1 })
        } else {
            logger.info("job ended", metadata: metadata.merging(["error": "\(record.error ?? "")"]) { $1 })
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
