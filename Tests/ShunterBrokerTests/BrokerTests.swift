import Foundation
import ShunterBackends
import ShunterBroker
import ShunterCore
import ShunterHandlers
import ShunterPlugins
import ShunterStore
import Synchronization
import Testing

@Suite("Broker on real parts")
struct BrokerTests {
    @Test("a bash job runs, and the same transformation again is answered from the cache")
    func runThenCacheHit() async throws {
        let fixture = try BrokerFixture()
        defer { fixture.remove() }
        try await fixture.withBroker { broker in
            let tf = try await fixture.bash("echo $(( a * 2 )) > RESULT", inputs: ["a": (.int, .int(1000))])

            let first = try await broker.run(tf)
            #expect(first.status == .succeeded, "\(first.error ?? "")")
            #expect(!first.fromCache)
            #expect(try await fixture.text(of: first.result) == "2000\n")
            #expect(try await fixture.results.result(for: tf.checksum) == first.result)

            let second = try await broker.run(tf)
            #expect(second.fromCache)
            #expect(second.result == first.result)
            let jobs = try await broker.list(JobFilter())
            #expect(jobs.count == 1, "a cache hit must not create a job")
        }
    }

    @Test("a graceful stop commits the results the store still held back for a batch")
    func shutdownCommitsHeldBackResults() async throws {
        let fixture = try BrokerFixture(resultCommitDelay: .seconds(3600))
        defer { fixture.remove() }
        try await fixture.withBroker { broker in
            let tf = try await fixture.bash("echo kept > RESULT")
            let outcome = try await broker.run(tf)
            #expect(outcome.status == .succeeded, "\(outcome.error ?? "")")
            // Another connection to the file sees only what is committed.
            let other = try SQLiteResultStore(path: fixture.root + "/results.sqlite", readOnly: true)
            #expect(try await other.result(for: tf.checksum) == nil, "committed before the batch's time")
            await broker.shutdown()
            #expect(try await other.result(for: tf.checksum) == outcome.result)
        }
    }

    @Test("50 identical submissions at once run the transformation once and all get its result")
    func identicalSubmissionsRunOnce() async throws {
        let fixture = try BrokerFixture()
        defer { fixture.remove() }
        try await fixture.withBroker { broker in
            let counter = fixture.root + "/runs.txt"
            let tf = try await fixture.bash("echo run >> \(counter); sleep 0.3; echo $RANDOM > RESULT")

            let outcomes = try await withThrowingTaskGroup(of: JobOutcome.self) { group in
                for _ in 0..<50 { group.addTask { try await broker.run(tf) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.count == 50)
            #expect(outcomes.allSatisfy { $0.status == .succeeded })
            #expect(Set(outcomes.map(\.result)).count == 1, "every waiter must get the one result")
            let runs = try String(contentsOfFile: counter, encoding: .utf8).split(separator: "\n")
            #expect(runs.count == 1, "the job ran \(runs.count) times")
            #expect(try await broker.list(JobFilter()).count == 1)
        }
    }

    @Test("a handler never runs more jobs at once than its max_jobs")
    func perHandlerConcurrencyLimit() async throws {
        let fixture = try BrokerFixture(handlers: [BrokerFixture.bashHandler(maxJobs: 2)])
        defer { fixture.remove() }
        try await fixture.withBroker { broker in
            let log = fixture.root + "/spans.txt"
            // Each job logs its start and end (nanoseconds); overlaps are counted afterwards. A job
            // stays until a second one runs beside it (or every job has started), so that the
            // limit is reached however slowly the machine starts processes; the 60 s bound only
            // keeps a broker that never runs two at once from hanging the test.
            let started = "$(grep -c ' +1' \(log))"
            let inFlight = "$(( \(started) - $(grep -c ' -1' \(log)) ))"
            let transformations = try await (0..<6).asyncMap { index in
                try await fixture.bash(
                    "echo \"$(date +%s%N) +1\" >> \(log); i=0; "
                        + "while [ \(inFlight) -lt 2 ] && [ \(started) -lt 6 ] && [ $i -lt 6000 ]; do sleep 0.01; i=$((i+1)); done; "
                        + "echo \"$(date +%s%N) -1\" >> \(log); echo \(index) > RESULT")
            }
            let outcomes = try await withThrowingTaskGroup(of: JobOutcome.self) { group in
                for tf in transformations { group.addTask { try await broker.run(tf) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.allSatisfy { $0.status == .succeeded })
            let events = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map { line in
                let parts = line.split(separator: " ")
                return (time: Int(parts[0])!, delta: Int(parts[1])!)
            }.sorted { ($0.time, $0.delta) < ($1.time, $1.delta) }
            var running = 0
            var peak = 0
            for event in events {
                running += event.delta
                peak = max(peak, running)
            }
            #expect(events.count == 12)
            #expect(peak <= 2, "\(peak) jobs ran at once under max_jobs: 2")
            #expect(peak == 2, "the limit should be used fully, peak was \(peak)")
        }
    }

    @Test("a job no handler accepts is refused before it is journaled, naming the languages the handlers run")
    func noHandlerAccepts() async throws {
        let fixture = try BrokerFixture()
        defer { fixture.remove() }
        try await fixture.withBroker { broker in
            var dict: [String: JSONValue] = [
                "__language__": .string("python"),
                "__output__": .array([.string("result"), .string("int"), .null]),
            ]
            dict["code"] = .array([
                .string("python"), .null,
                .string(try await fixture.buffers.put(Array("result = 1\n".utf8), expected: nil).hex),
            ])
            let refusal = await #expect(throws: AdmissionRefusal.self) {
                try await broker.run(try Transformation.parse(dict: dict))
            }
            #expect(refusal?.kind == .unrunnable)
            #expect(
                refusal?.message == "no job handler of this broker runs __language__ 'python'; its handlers run: bash")
            #expect(try await fixture.journal().list(JobFilter()).isEmpty)
        }
    }

    @Test("a successful job is listed as ended at once, and its work directory is recycled after the answer")
    func successRemovesWorkDirectory() async throws {
        let fixture = try BrokerFixture()
        defer { fixture.remove() }
        try await fixture.withBroker { broker in
            let tf = try await fixture.bash("echo 5 > RESULT")
            let outcome = try await broker.run(tf)
            #expect(outcome.status == .succeeded)
            // Listed as it ended at once, whether or not the end is committed yet.
            #expect(try await broker.list(JobFilter(transformation: tf.checksum)).map(\.state) == [.succeeded])
            #expect(try await broker.list(JobFilter(states: [.running, .collecting])).isEmpty)
            let workDirectory = try #require(outcome.record?.workDirectory)
            // Emptied and moved to the spares by the job's task once the waiters have their answer:
            // soon, not necessarily yet.
            let deadline = ContinuousClock.now + .seconds(10)
            while FileManager.default.fileExists(atPath: workDirectory), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(!FileManager.default.fileExists(atPath: workDirectory))
        }
    }

    @Test("a failing job reports Seamless's error text and keeps its work directory")
    func failureKeepsWorkDirectory() async throws {
        let fixture = try BrokerFixture()
        defer { fixture.remove() }
        try await fixture.withBroker { broker in
            let outcome = try await broker.run(try await fixture.bash("echo oops >&2; exit 3"))
            #expect(outcome.status == .failed)
            #expect(outcome.error?.contains("Return code 3") == true)
            let record = try #require(outcome.record)
            #expect(record.state == .failed)
            #expect(record.stderrTail?.contains("oops") == true)
            let workDirectory = try #require(record.workDirectory)
            #expect(FileManager.default.fileExists(atPath: workDirectory))
            #expect(FileManager.default.fileExists(atPath: workDirectory + "/work/transform.sh"))
            // The local backend cannot re-attach after a restart: no execution record is written.
            #expect(!FileManager.default.fileExists(atPath: workDirectory + "/execution.json"))
            #expect(try await fixture.results.result(for: record.transformation) == nil, "a failure is not cached")
        }
    }

    @Test("cancelling a running job stops it and every waiter hears 'cancelled'")
    func cancelRunningJob() async throws {
        let fixture = try BrokerFixture()
        defer { fixture.remove() }
        try await fixture.withBroker { broker in
            let (tf, id) = try await startSleepingJob(on: broker, fixture)
            // The job sleeps for 30 s: a cancelled outcome says the cancel stopped it, not its end.
            #expect(await broker.cancel(id))
            let outcome = try await broker.wait(id)
            #expect(outcome.status == .cancelled)
            #expect(try await broker.record(id)?.state == .cancelled)
            #expect(await broker.activeJob(for: tf.checksum) == nil)
        }
    }

    @Test("a running local job is in the journal as running, with its process identity and work directory")
    func runningJobIsJournaledWithItsIdentity() async throws {
        let fixture = try BrokerFixture()
        defer { fixture.remove() }
        try await fixture.withBroker { broker in
            let (tf, id) = try await startSleepingJob(on: broker, fixture)
            // What a restarted broker would read: the journal file through a second connection.
            // `running` is written once, with the identity (`RecoveryModel.rerunFoundByWorkDirectory`); the write is
            // not awaited, so look until it is there.
            let journal = try fixture.journal()
            var journaled = try #require(try await journal.record(id))
            let deadline = ContinuousClock.now + .seconds(10)
            while journaled.externalID == nil && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
                journaled = try #require(try await journal.record(id))
            }
            #expect(journaled.state == .running)
            #expect(journaled.externalID?.hasPrefix("local:") == true, "\(journaled.externalID ?? "nil")")
            #expect(
                journaled.workDirectory?.hasSuffix(
                    WorkDirectory.name(transformation: tf.checksum, jobID: id.description)) == true)
            #expect(journaled.attempts == 1)
            #expect(await broker.cancel(id))
            _ = try await broker.wait(id)
        }
    }
    @Test(
        "a job run for a waiting caller is journaled without an fsync; a submission that joins it, told its id, makes it durable"
    )
    func synchronousRunsSkipTheInsertFsync() async throws {
        let fixture = try BrokerFixture()
        defer { fixture.remove() }
        let journal = try fixture.journal()
        try await fixture.withBroker(journal: journal) { broker in
            let marker = fixture.root + "/started"
            let tf = try await fixture.bash("touch \(marker); sleep 30; echo 1 > RESULT")
            let before = try await journal.statistics().syncedCommits
            let run = Task { try await broker.run(tf) }
            try await waitUntil { FileManager.default.fileExists(atPath: marker) }
            #expect(
                try await journal.statistics().syncedCommits == before, "the insert of a run must not wait for an fsync"
            )
            let id = try #require(await broker.activeJob(for: tf.checksum)).id
            // Crash-safe already: committed, in the file a restarted broker reads.
            let inserted = try #require(try await fixture.journal().record(id))
            #expect(inserted.transformation == tf.checksum)

            guard case .job(let joined) = try await broker.submit(tf) else {
                Issue.record("expected the running job")
                return
            }
            #expect(joined == id)
            #expect(
                try await journal.statistics().syncedCommits == before + 1,
                "a submission told the job id makes its row durable")
            // SQLite writes (and syncs) nothing for a row left byte for byte as it was.
            #expect(try #require(try await journal.record(id)).updatedAt > inserted.updatedAt)
            _ = try await broker.submit(tf)
            #expect(
                try await journal.statistics().syncedCommits == before + 1, "once durable, joining costs no more fsyncs"
            )
            #expect(await broker.cancel(id))
            _ = try await run.value
        }
    }

    @Test("a local job that ends before its identity's deferred write is journaled twice: its insert and its end")
    func shortLocalJobWritesTwoRows() async throws {
        let fixture = try BrokerFixture()
        defer { fixture.remove() }
        // A deferral no test machine's trivial job outlasts; the held-back write is then
        // forced below, so nothing depends on timing.
        let journal = try JobJournal(path: fixture.root + "/journal.sqlite", deferral: .seconds(600))
        try await fixture.withBroker(journal: journal) { broker in
            let tf = try await fixture.bash("echo 1 > RESULT")
            let before = try await journal.statistics().writtenRows
            let outcome = try await broker.run(tf)
            #expect(outcome.status == .succeeded)
            // The end's write is not awaited by `run`: the broker's record says when it is committed.
            let id = try #require(outcome.record).id
            let deadline = ContinuousClock.now + .seconds(10)
            while try await journal.record(id)?.state != .succeeded, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            // Queues what is still held back, and returns once every write before it is committed;
            // its own empty write counts as a row.
            try await journal.commitPending()
            #expect(
                try await journal.statistics().writtenRows - before == 3,
                "insert and end of the job, and the barrier: no running row")
            let journaled = try #require(try await journal.record(id))
            #expect(journaled.externalID?.hasPrefix("local:") == true, "the end's row carries the identity")
        }
    }

    @Test("a restart runs again the jobs that were queued or running, and keeps finished ones")
    func restartRecoversUnfinishedJobs() async throws {
        let fixture = try BrokerFixture()
        defer { fixture.remove() }
        let done = try await fixture.bash("echo done > RESULT")
        let interrupted = try await fixture.bash("echo again > RESULT")
        let queued = try await fixture.bash("echo queued > RESULT")
        do {
            // The first broker process finishes one job; the journal then holds two more, one
            // caught running, as a `kill -9` would leave them.
            try await fixture.withBroker { broker in
                #expect(try await broker.run(done).status == .succeeded)
                let journal = try fixture.journal()
                _ = try await fixture.journalJob(
                    interrupted, in: journal, state: .running, handler: "bash-local", attempts: 1)
                _ = try await fixture.journalJob(queued, in: journal)
            }
        }
        try await fixture.withBroker { restarted in
            let all = try await restarted.list(JobFilter())
            #expect(all.count == 3)
            for record in all where record.transformation != done.checksum {
                let outcome = try await restarted.wait(record.id)
                #expect(outcome.status == .succeeded, "\(record.id): \(outcome.error ?? "")")
            }
            #expect(
                try await fixture.text(of: try await fixture.results.result(for: interrupted.checksum)) == "again\n")
            #expect(try await fixture.text(of: try await fixture.results.result(for: queued.checksum)) == "queued\n")
            let rerun = try await restarted.list(JobFilter(transformation: interrupted.checksum))
            #expect(rerun.first?.attempts == 2, "the interrupted job counts its second attempt")
        }
    }

    @Test("a re-run stops the processes an interrupted attempt left in its work directory, even unjournaled ones")
    func rerunStopsLeftoverProcesses() async throws {
        let fixture = try BrokerFixture()
        defer { fixture.remove() }
        let tf = try await fixture.bash("echo again > RESULT")
        let journal = try fixture.journal()
        let id = try await fixture.journalJob(tf, in: journal, state: .running, handler: "bash-local", attempts: 1)
        // The killed broker's attempt: a process working in the job's directory, whose identity
        // never reached the journal (no external id, no work directory recorded).
        let leftoverWork = try fixture.leftoverWork(of: tf, job: id)
        let orphan = try await fixture.startSleeper(in: leftoverWork)

        try await fixture.withBroker { broker in
            let outcome = try await broker.wait(id)
            #expect(outcome.status == .succeeded, "\(outcome.error ?? "")")
            defer { if orphan.isRunning { orphan.terminate() } }
            try await waitUntil { !orphan.isRunning }
            #expect(!orphan.isRunning, "the leftover process must have been killed")
            #expect(orphan.isRunning || orphan.terminationReason == .uncaughtSignal)
        }
    }

    @Test("a job whose batched insert a crash lost: its processes are stopped and its directory removed on restart")
    func restartRemovesWorkOfLostJobs() async throws {
        let fixture = try BrokerFixture()
        defer { fixture.remove() }
        let tf = try await fixture.bash("sleep 300; echo late > RESULT")
        // The killed broker: it had admitted the job for a waiting caller and started it, but
        // the insert was still waiting for its batch.
        let crashed = try JobJournal(path: fixture.root + "/journal.sqlite", batchWindow: .seconds(3600))
        // A directory of a job the journal knows is not touched.
        let known = try await fixture.bash("echo known > RESULT")
        let knownID = try await fixture.journalJob(known, in: crashed, state: .succeeded, handler: "bash-local")
        let knownWork = try fixture.leftoverWork(of: known, job: knownID)
        let lost = try await crashed.insert(
            transformation: tf.checksum, language: "bash", request: [], at: 1, durability: .eventually)
        let leftoverWork = try fixture.leftoverWork(of: tf, job: lost)
        let orphan = try await fixture.startSleeper(in: leftoverWork)
        defer { if orphan.isRunning { orphan.terminate() } }

        try await fixture.withBroker { broker in
            try await waitUntil { !orphan.isRunning }
            #expect(!orphan.isRunning, "the lost job's process must have been stopped")
            #expect(!FileManager.default.fileExists(atPath: (leftoverWork as NSString).deletingLastPathComponent))
            #expect(FileManager.default.fileExists(atPath: knownWork))
            #expect(try await broker.record(lost) == nil)
            let next = try await broker.run(try await fixture.bash("echo next > RESULT"))
            #expect(next.status == .succeeded)
            #expect(try #require(next.record).id.rawValue > lost.rawValue)
        }
    }

    @Test("an attempt the journal never heard of (only its work directory is left) counts in attempts")
    func unjournaledAttemptCounts() async throws {
        let fixture = try BrokerFixture()
        defer { fixture.remove() }
        let tf = try await fixture.bash("echo again > RESULT")
        let journal = try fixture.journal()
        // Journaled as queued: the broker died before its eventual `running` write committed.
        let id = try await fixture.journalJob(tf, in: journal)
        _ = try fixture.leftoverWork(of: tf, job: id)

        try await fixture.withBroker { broker in
            let outcome = try await broker.wait(id)
            #expect(outcome.status == .succeeded, "\(outcome.error ?? "")")
            #expect(
                try await broker.record(id)?.attempts == 2, "the attempt that left the directory ran, then this one")
        }
    }

    @Test("an execution id that only finds its execution again (a container's) is committed before `started` returns")
    func externalIDOfAContainerIsCommittedAtOnce() async throws {
        let fixture = try BrokerFixture()
        defer { fixture.remove() }
        let journal = try fixture.journal()
        let backend = NamingBackend(journal: journal)
        let handler = BrokerFixture.bashHandler()
        try await fixture.withBroker(
            journal: journal,
            runtimes: [HandlerRuntime(config: handler, plugin: try BashPlugin(handler: handler), backend: backend)]
        ) { broker in
            // Run for a waiting caller: the job's insert waits for a batch, and `started` must bring
            // it along.
            let outcome = try await broker.run(try await fixture.bash("echo named > RESULT"))
            #expect(outcome.status == .succeeded, "\(outcome.error ?? "")")
            let id = try #require(outcome.record?.id)
            #expect(
                backend.seen.withLock { $0 } == ["named-\(id)"],
                "the name was not in the journal when `started` returned")
        }
    }

    @Test("a job whose result was stored before the crash is not run again")
    func restartAfterResultStored() async throws {
        let fixture = try BrokerFixture()
        defer { fixture.remove() }
        let counter = fixture.root + "/runs.txt"
        let tf = try await fixture.bash("echo run >> \(counter); echo 7 > RESULT")
        let result = try await fixture.buffers.put(Array("7\n".utf8), expected: nil)
        try await fixture.results.setResult(result, for: tf.checksum, record: nil)
        let journal = try fixture.journal()
        let id = try await fixture.journalJob(tf, in: journal, state: .collecting)

        try await fixture.withBroker { broker in
            let recovered = try #require(try await broker.record(id))
            #expect(recovered.state == .succeeded)
            #expect(recovered.result == result)
            #expect(!FileManager.default.fileExists(atPath: counter), "the job must not run again")
        }
    }
}

/// Polls `condition` every 20 ms for at most `timeout`.
/// Submits a bash job that sleeps 30 s, and returns once its process runs.
func startSleepingJob(on broker: Broker, _ fixture: BrokerFixture) async throws -> (Transformation, JobID) {
    let marker = fixture.root + "/started"
    let tf = try await fixture.bash("touch \(marker); sleep 30; echo 1 > RESULT")
    let submission = try await broker.submit(tf)
    guard case .job(let id) = submission else { throw BrokerTestFailure("expected a job, got \(submission)") }
    try await waitUntil { FileManager.default.fileExists(atPath: marker) }
    return (tf, id)
}

struct BrokerTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func waitUntil(timeout: Duration = .seconds(10), _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("condition not met within \(timeout)")
            return
        }
        try await Task.sleep(for: .milliseconds(20))
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}

/// A backend for the broker's side of `events.started`: like a container engine it names its
/// execution and keeps the default recovery model (`rerun`), then runs the command as the
/// local backend does. It records the external id the journal holds once `started` returned.
final class NamingBackend: Backend {
    let journal: JobJournal
    let seen = Mutex<[String?]>([])

    init(journal: JobJournal) { self.journal = journal }

    func run(_ execution: Execution, events: ExecutionEvents) async throws -> ExecutionOutcome {
        try await events.started("named-\(execution.jobID)")
        let record = try await journal.record(try #require(JobID(execution.jobID)))
        seen.withLock { $0.append(record?.externalID) }
        return try await LocalBackend(killGrace: .milliseconds(500)).run(execution, events: ExecutionEvents())
    }
}
