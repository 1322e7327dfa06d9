import ShunterBackends
import ShunterCore
import ShunterHandlers
import Testing

@testable import ShunterBroker

/// The broker's bookkeeping on the state machine alone: no bash, no SQLite, no clock. Each
/// test feeds events and reads the actions and the state.
@Suite("Broker state machine")
struct BrokerStateMachineTests {
    typealias Machine = BrokerStateMachine<String>
    typealias Action = Machine.Action

    static func handler(
        _ name: String, maxJobs: Int, languages: [String] = ["bash"], model: RecoveryModel = .rerunFoundByWorkDirectory
    ) -> (config: HandlerConfig, recoveryModel: RecoveryModel) {
        (
            HandlerConfig(
                name: name, plugin: "bash", backend: "local", match: MatchRules(languages: languages),
                limits: HandlerLimits(maxJobs: maxJobs)), model
        )
    }

    static func checksum(_ n: Int) -> Checksum {
        Checksum(digest: (0..<32).map { UInt8(truncatingIfNeeded: n >> ($0 % 8)) &+ UInt8($0) })
    }

    static func record(_ id: Int64, tf: Int? = nil, state: JobState = .queued, language: String = "bash") -> JobRecord {
        JobRecord(
            id: JobID(id), transformation: checksum(tf ?? Int(id)), state: state, language: language, createdAt: 0)
    }

    /// Admits job `id` (bash unless said otherwise) and returns the actions.
    @discardableResult
    static func admit(_ machine: inout Machine, _ id: Int64, language: String = "bash") -> [Action] {
        machine.admitted(
            record(id, language: language), input: "job \(id)", traits: JobTraits(language: language),
            durablyJournaled: false,
            now: 1)
    }

    static func started(_ actions: [Action]) -> [JobID] {
        actions.compactMap { if case .start(let id, _, _, _, _) = $0 { id } else { nil } }
    }

    static func answers(_ actions: [Action]) -> [(waiters: [Int], outcome: JobOutcome)] {
        actions.compactMap { if case .answer(let waiters, let outcome) = $0 { (waiters, outcome) } else { nil } }
    }

    static func journalEnds(_ actions: [Action]) -> [JobRecord] {
        actions.compactMap { if case .journalEnd(let record, _) = $0 { record } else { nil } }
    }

    static func succeeded(_ machine: inout Machine, _ id: Int64) throws -> [Action] {
        _ = try machine.progress(.preparing, of: JobID(id), now: 2)
        _ = try machine.progress(.running(workDirectory: "/w/\(id)"), of: JobID(id), now: 2)
        _ = try machine.progress(.collecting(.none), of: JobID(id), now: 3)
        return machine.ended(JobID(id), .succeeded(checksum(1000 + Int(id)), .none, workDirectory: "/w/\(id)"), now: 4)
    }

    // MARK: - Scheduling

    @Test("jobs start oldest first, and the next one starts when a job ends")
    func oldestFirst() throws {
        var machine = Machine(handlers: [Self.handler("one", maxJobs: 1)])
        #expect(Self.started(Self.admit(&machine, 1)) == [JobID(1)])
        #expect(Self.started(Self.admit(&machine, 2)).isEmpty)
        #expect(Self.started(Self.admit(&machine, 3)).isEmpty)
        #expect(machine.queue == [JobID(2), JobID(3)])
        let actions = try Self.succeeded(&machine, 1)
        #expect(Self.started(actions) == [JobID(2)])
        #expect(machine.queue == [JobID(3)])
        #expect(machine.active[JobID(2)]?.record.attempts == 1)
        #expect(machine.active[JobID(2)]?.record.handler == "one")
    }

    @Test("a handler never gets more jobs than its max_jobs; the next handler that accepts takes the rest")
    func maxJobsPerHandler() throws {
        var machine = Machine(handlers: [Self.handler("a", maxJobs: 2), Self.handler("b", maxJobs: 1)])
        var starts: [JobID] = []
        for id in Int64(1)...5 { starts += Self.started(Self.admit(&machine, id)) }
        #expect(starts == [JobID(1), JobID(2), JobID(3)])
        #expect(machine.runningPerHandler == ["a": 2, "b": 1])
        #expect(machine.active[JobID(3)]?.record.handler == "b")
        #expect(machine.queue == [JobID(4), JobID(5)])
        let next = Self.started(try Self.succeeded(&machine, 3))
        #expect(next == [JobID(4)])
        #expect(machine.runningPerHandler == ["a": 2, "b": 1])
        #expect(machine.active[JobID(4)]?.record.handler == "b")
    }

    @Test("a job no handler accepts fails with each handler's reason; the others go on")
    func noHandler() {
        var machine = Machine(handlers: [Self.handler("bash-only", maxJobs: 1)])
        let actions = Self.admit(&machine, 1, language: "python")
        #expect(Self.started(actions).isEmpty)
        let ends = Self.journalEnds(actions)
        #expect(ends.map(\.state) == [.failed])
        #expect(ends.first?.error?.contains("bash-only") == true, "\(ends.first?.error ?? "nil")")
        #expect(machine.active.isEmpty && machine.queue.isEmpty)
        #expect(machine.record(JobID(1))?.state == .failed, "answered from memory until journaled")
        machine.endJournaled(JobID(1))
        #expect(machine.record(JobID(1)) == nil)
        #expect(Self.started(Self.admit(&machine, 2)) == [JobID(2)])
    }

    @Test("one job per transformation: the live job is found by its transformation until it ends")
    func dedup() throws {
        var machine = Machine(handlers: [Self.handler("one", maxJobs: 4)])
        Self.admit(&machine, 1)
        #expect(machine.jobForTransformation[Self.checksum(1)] == JobID(1))
        _ = try Self.succeeded(&machine, 1)
        #expect(machine.jobForTransformation[Self.checksum(1)] == nil)
    }

    // MARK: - Cancel and waiters

    @Test("a queued job cancelled ends at once, and its waiters hear it")
    func cancelQueued() {
        var machine = Machine(handlers: [Self.handler("one", maxJobs: 1)])
        Self.admit(&machine, 1)
        Self.admit(&machine, 2)
        let token = machine.newWaiterToken()
        let added = machine.waiterAdded(token, to: JobID(2))
        #expect(added)
        let (accepted, actions) = machine.cancelRequested(JobID(2), now: 5)
        #expect(accepted)
        let answers = Self.answers(actions)
        #expect(answers.count == 1 && answers[0].waiters == [token])
        #expect(answers.first?.outcome.status == .cancelled)
        #expect(Self.journalEnds(actions).map(\.state) == [.cancelled])
        #expect(machine.queue.isEmpty)
        #expect(machine.runningPerHandler["one"] == 1, "the running job keeps its slot")
        let again = machine.cancelRequested(JobID(2), now: 6)
        #expect(!again.accepted, "an ended job cannot be cancelled")
    }

    @Test("a running job cancelled keeps its slot until its execution ends")
    func cancelRunning() {
        var machine = Machine(handlers: [Self.handler("one", maxJobs: 1)])
        Self.admit(&machine, 1)
        Self.admit(&machine, 2)
        let (accepted, actions) = machine.cancelRequested(JobID(1), now: 5)
        #expect(accepted)
        guard case .cancelTask(let id)? = actions.first, actions.count == 1 else {
            Issue.record("expected one cancelTask, got \(actions)")
            return
        }
        #expect(id == JobID(1))
        #expect(machine.active[JobID(1)] != nil && machine.runningPerHandler["one"] == 1)
        let again = machine.cancelRequested(JobID(1), now: 6)
        #expect(!again.accepted, "asked once")
        let ended = machine.ended(JobID(1), .cancelled(reason: "cancelled while running"), now: 7)
        #expect(Self.journalEnds(ended).map(\.state) == [.cancelled])
        #expect(Self.started(ended) == [JobID(2)], "the freed slot goes to the next job")
    }

    @Test("a waiter dropped is not answered; one added to an ended job is refused")
    func waiters() throws {
        var machine = Machine(handlers: [Self.handler("one", maxJobs: 1)])
        Self.admit(&machine, 1)
        let kept = machine.newWaiterToken()
        let dropped = machine.newWaiterToken()
        #expect(kept != dropped)
        let addedKept = machine.waiterAdded(kept, to: JobID(1))
        let addedDropped = machine.waiterAdded(dropped, to: JobID(1))
        #expect(addedKept && addedDropped)
        let droppedOnce = machine.waiterDropped(dropped, from: JobID(1))
        let droppedTwice = machine.waiterDropped(dropped, from: JobID(1))
        #expect(droppedOnce)
        #expect(!droppedTwice, "dropped once")
        let answers = Self.answers(try Self.succeeded(&machine, 1))
        #expect(answers.map(\.waiters) == [[kept]])
        #expect(answers.first?.outcome.result == Self.checksum(1001))
        // The record the waiters get is the ended one: it says when the job ran.
        #expect(answers.first?.outcome.record?.startedAt == 1)
        #expect(answers.first?.outcome.record?.finishedAt == 4)
        #expect(answers.first?.outcome.record?.state == .succeeded)
        let late = machine.newWaiterToken()
        let addedLate = machine.waiterAdded(late, to: JobID(1))
        #expect(!addedLate)
    }

    @Test("at a stop, running jobs are cancelled, nothing starts, and interrupted jobs are not journaled")
    func shutdown() {
        var machine = Machine(handlers: [Self.handler("one", maxJobs: 1)])
        Self.admit(&machine, 1)
        Self.admit(&machine, 2)
        let token = machine.newWaiterToken()
        _ = machine.waiterAdded(token, to: JobID(1))
        let actions = machine.shutdown()
        guard case .cancelTask(let id)? = actions.first, actions.count == 1 else {
            Issue.record("expected one cancelTask, got \(actions)")
            return
        }
        #expect(id == JobID(1))
        let ended = machine.ended(JobID(1), .interrupted, now: 3)
        #expect(Self.journalEnds(ended).isEmpty)
        #expect(Self.started(ended).isEmpty, "job 2 stays queued in the journal for the next start")
        #expect(Self.answers(ended).first?.outcome.error == "broker shutting down")
        #expect(Self.answers(ended).first?.waiters == [token])
    }

    // MARK: - Progress and the legal moves

    @Test("progress is journaled as the durability policy says for the handler's recovery model")
    func progressFollowsThePolicy() throws {
        var local = Machine(handlers: [Self.handler("local", maxJobs: 1, model: .rerunFoundByWorkDirectory)])
        Self.admit(&local, 1)
        #expect(try local.progress(.preparing, of: JobID(1), now: 2).isEmpty)
        #expect(try local.progress(.running(workDirectory: "/w"), of: JobID(1), now: 2).isEmpty)
        let reported = try local.progress(.externalID("local:1"), of: JobID(1), now: 2)
        guard case .journal(.record(let record), .deferred, event: .externalIDReported)? = reported.first else {
            Issue.record("expected a deferred record write, got \(reported)")
            return
        }
        #expect(record.state == .running && record.externalID == "local:1" && record.workDirectory == "/w")

        var slurm = Machine(handlers: [Self.handler("slurm", maxJobs: 1, model: .reattach)])
        Self.admit(&slurm, 1)
        _ = try slurm.progress(.preparing, of: JobID(1), now: 2)
        let running = try slurm.progress(.running(workDirectory: "/w"), of: JobID(1), now: 2)
        guard case .journal(.record(let slurmRecord), .durable, event: .running)? = running.first else {
            Issue.record("expected a durable record write, got \(running)")
            return
        }
        #expect(slurmRecord.state == .running)
    }

    /// The error a progress report is refused with; nil when it is accepted.
    static func refusal(_ machine: inout Machine, _ progress: JobProgress, of id: Int64) -> (any Error)? {
        do {
            _ = try machine.progress(progress, of: JobID(id), now: 2)
            return nil
        } catch {
            return error
        }
    }

    @Test("an illegal move is refused and leaves the job as it was")
    func illegalMoves() throws {
        var machine = Machine(handlers: [Self.handler("one", maxJobs: 1)])
        Self.admit(&machine, 1)
        #expect(Self.refusal(&machine, .collecting(.none), of: 1) is IllegalTransition)
        #expect(machine.active[JobID(1)]?.record.state == .queued)
        #expect(Self.refusal(&machine, .preparing, of: 9) is BrokerError)
        _ = try machine.progress(.preparing, of: JobID(1), now: 2)
        #expect(Self.refusal(&machine, .preparing, of: 1) is IllegalTransition)
        // Only a collected job succeeds: a success reported from `preparing` fails the job.
        let ended = machine.ended(JobID(1), .succeeded(Self.checksum(5), .none, workDirectory: "/w"), now: 3)
        #expect(Self.journalEnds(ended).map(\.state) == [.failed])
        #expect(Self.journalEnds(ended).first?.error?.contains("illegal state transition") == true)
    }

    @Test("recovery's own moves are legal only at recovery")
    func recoveryMoves() {
        for from in [JobState.queued, .preparing, .running] {
            #expect(!from.canMove(to: .succeeded))
            #expect(from.canMove(to: .succeeded, atRecovery: true))
        }
        #expect(!JobState.collecting.canMove(to: .running))
        #expect(JobState.collecting.canMove(to: .running, atRecovery: true))
        for terminal in JobState.allCases where terminal.isTerminal {
            for next in JobState.allCases {
                #expect(!terminal.canMove(to: next, atRecovery: true), "\(terminal) → \(next)")
            }
        }
    }

    // MARK: - Recovery

    static let limits = Machine.RecoveryLimits(recoveries: 5, attempts: 3, journalPath: "/j")

    static func recovered(
        _ record: JobRecord, recoveries: Int = 1, cached: Checksum? = nil, unreadable: Bool = false
    ) -> Machine.RecoveredJob {
        Machine.RecoveredJob(
            record: record, recoveries: recoveries,
            input: unreadable
                ? .failure(BrokerError.journalMismatch("garbled")) : .success(("job", JobTraits(language: "bash"))),
            cachedResult: .success(cached))
    }

    static func journaled(_ actions: [Action]) -> [(JobRecord, JournalDurability)] {
        actions.compactMap {
            if case .journal(.record(let record), let durability, _) = $0 { (record, durability) } else { nil }
        }
    }

    @Test(
        "an interrupted job on a re-run backend: its execution is abandoned, it is queued again durably, and runs after recovery"
    )
    func recoveryReruns() {
        var machine = Machine(handlers: [Self.handler("docker", maxJobs: 1, model: .rerunFoundByExternalID)])
        var record = Self.record(1, state: .running)
        record.handler = "docker"
        record.externalID = "shunter-job-1"
        record.attempts = 1
        let actions = machine.recovered(Self.recovered(record), limits: Self.limits, now: 10)
        guard case .abandon(let externalID, let handler)? = actions.first else {
            Issue.record("expected an abandon first, got \(actions)")
            return
        }
        #expect(externalID == "shunter-job-1" && handler == "docker")
        let writes = Self.journaled(actions)
        #expect(writes.map(\.0.state) == [.queued] && writes.map(\.1) == [.durable])
        #expect(writes.first?.0.externalID == nil)
        #expect(Self.started(actions).isEmpty, "nothing starts before recovery is finished")
        #expect(machine.queue == [JobID(1)])
        let finished = machine.recoveryFinished(now: 11)
        #expect(Self.started(finished) == [JobID(1)])
        #expect(machine.active[JobID(1)]?.record.attempts == 2)
    }

    @Test(
        "a running job on a re-attaching backend is followed, not run again; one found collecting goes back to running")
    func recoveryReattaches() {
        var machine = Machine(handlers: [Self.handler("slurm", maxJobs: 1, model: .reattach)])
        var record = Self.record(1, state: .collecting)
        record.handler = "slurm"
        record.externalID = "4242"
        record.workDirectory = "/w/1"
        record.attempts = 1
        let actions = machine.recovered(Self.recovered(record), limits: Self.limits, now: 10)
        #expect(Self.journaled(actions).map(\.0.state) == [.running])
        #expect(Self.journaled(actions).map(\.1) == [.durable])
        let resumed = actions.compactMap { if case .start(_, _, _, _, let point) = $0 { point } else { nil } }
        #expect(resumed.map(\.externalID) == ["4242"] && resumed.map(\.workDirectory) == ["/w/1"])
        #expect(machine.active[JobID(1)]?.record.attempts == 1, "the same attempt goes on")
        #expect(machine.runningPerHandler["slurm"] == 1)
    }

    @Test(
        "a job in flight at more crashes in a row than the limit fails without running, and its leftovers are stopped")
    func recoveryPoisonJob() {
        var machine = Machine(handlers: [Self.handler("one", maxJobs: 1)])
        var record = Self.record(1, state: .running)
        record.handler = "one"
        let actions = machine.recovered(Self.recovered(record, recoveries: 6), limits: Self.limits, now: 10)
        guard case .stopLeftovers(let id, _, _)? = actions.first else {
            Issue.record("expected stopLeftovers first, got \(actions)")
            return
        }
        #expect(id == JobID(1))
        #expect(Self.journaled(actions).map(\.0.state) == [.failed])
        #expect(Self.journaled(actions).first?.0.error?.contains("6 times in a row") == true)
        let finished = machine.recoveryFinished(now: 11)
        #expect(machine.active.isEmpty && Self.started(finished).isEmpty)
        // At the limit itself, the job still runs again.
        var atLimit = Machine(handlers: [Self.handler("one", maxJobs: 1)])
        _ = atLimit.recovered(Self.recovered(record, recoveries: 5), limits: Self.limits, now: 10)
        #expect(atLimit.queue == [JobID(1)])
    }

    @Test("recovery ends a job whose result is cached, fails one past max_attempts or unreadable, cancels a duplicate")
    func recoveryEnds() {
        var machine = Machine(handlers: [Self.handler("one", maxJobs: 1)])
        let cached = machine.recovered(
            Self.recovered(Self.record(1, state: .running), cached: Self.checksum(77)), limits: Self.limits, now: 10)
        #expect(Self.journaled(cached).map(\.0.state) == [.succeeded])
        #expect(Self.journaled(cached).first?.0.result == Self.checksum(77))

        var tired = Self.record(2, state: .running)
        tired.attempts = 3
        let failed = machine.recovered(Self.recovered(tired), limits: Self.limits, now: 10)
        #expect(Self.journaled(failed).map(\.0.state) == [.failed])
        #expect(Self.journaled(failed).first?.0.error?.contains("ran 3 times") == true)

        let unreadable = machine.recovered(
            Self.recovered(Self.record(3), unreadable: true), limits: Self.limits, now: 10)
        #expect(Self.journaled(unreadable).map(\.0.state) == [.failed])
        #expect(Self.journaled(unreadable).first?.0.error?.contains("garbled") == true)

        _ = machine.recovered(Self.recovered(Self.record(4, tf: 40)), limits: Self.limits, now: 10)
        let duplicate = machine.recovered(Self.recovered(Self.record(5, tf: 40)), limits: Self.limits, now: 10)
        #expect(Self.journaled(duplicate).map(\.0.state) == [.cancelled])
        #expect(machine.queue == [JobID(4)])
        #expect(Self.journaled(cached + failed + unreadable + duplicate).allSatisfy { $0.1 == .durable })
    }

    @Test("a recovered job whose journal write failed is forgotten and fails on its own row")
    func recoveryFailed() {
        var machine = Machine(handlers: [Self.handler("one", maxJobs: 1)])
        let record = Self.record(1, state: .running)
        _ = machine.recovered(Self.recovered(record), limits: Self.limits, now: 10)
        let actions = machine.recoveryFailed(record, reason: "disk full", now: 11)
        #expect(machine.active.isEmpty && machine.queue.isEmpty && machine.jobForTransformation.isEmpty)
        let failures = actions.compactMap {
            if case .journal(.failUnreadable(let id, let error, _), _, _) = $0 { (id, error) } else { nil }
        }
        #expect(failures.map(\.0) == [JobID(1)] && failures.map(\.1) == ["disk full"])
    }
}
