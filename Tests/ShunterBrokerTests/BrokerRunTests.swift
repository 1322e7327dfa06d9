import Foundation
import ShunterBroker
import ShunterCore
import ShunterStore
import Testing

/// The broker's and the journal's `run()`: jobs and commits as children of the caller's task,
/// and how they end when that task is cancelled or the broker is stopped.
@Suite("Broker and journal run loops")
struct BrokerRunTests {
    @Test("a cancelled run() (a cancelled service group) stops the running job: it stays unfinished in the journal")
    func cancelledRunInterruptsJobs() async throws {
        let fixture = try BrokerFixture()
        defer { fixture.remove() }
        let broker = try await fixture.openBroker()
        let id = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await broker.run() }
            let (_, id) = try await startSleepingJob(on: broker, fixture)
            group.cancelAll()
            // The job sleeps 30 s: the group's end at all says the cancellation stopped it.
            try await group.waitForAll()
            return id
        }
        let record = try #require(try await fixture.journal().record(id))
        #expect(!record.state.isTerminal, "a job stopped with the broker runs again at the next start: \(record.state)")
        await broker.shutdown()
        await #expect(throws: BrokerError.self) {
            _ = try await broker.submit(try await fixture.bash("echo 1 > RESULT"))
        }
    }

    @Test("a broker stopped before its run() started stops at once, and its run() then returns at once")
    func shutdownBeforeRun() async throws {
        let fixture = try BrokerFixture()
        defer { fixture.remove() }
        let broker = try await fixture.openBroker()
        await broker.shutdown()
        await broker.run()
        await #expect(throws: BrokerError.self) {
            _ = try await broker.submit(try await fixture.bash("echo 1 > RESULT"))
        }
    }

    @Test("a waiter whose task is cancelled hears it at once; the job goes on, and a later waiter gets its result")
    func cancelledWaiterLeavesTheJob() async throws {
        let fixture = try BrokerFixture()
        defer { fixture.remove() }
        let release = fixture.root + "/release"
        let started = fixture.root + "/started"
        let tf = try await fixture.bash(
            "touch \(started); while [ ! -e \(release) ]; do sleep 0.05; done; echo 3 > RESULT")
        try await fixture.withBroker { broker in
            guard case .job(let id) = try await broker.submit(tf) else { throw BrokerTestFailure("expected a job") }
            try await waitUntil { FileManager.default.fileExists(atPath: started) }
            await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { _ = try await broker.wait(id) }
                group.cancelAll()
                await #expect(throws: CancellationError.self) { try await group.next() }
            }
            #expect(try await broker.record(id)?.state == .running)
            _ = FileManager.default.createFile(atPath: release, contents: nil)
            let outcome = try await broker.wait(id)
            #expect(outcome.status == .succeeded, "\(outcome.error ?? "")")
            #expect(try await fixture.text(of: outcome.result) == "3\n")
        }
    }

    @Test(
        "a journal whose run() was cancelled has committed what was waited for, and commits later writes in their callers"
    )
    func cancelledJournalRun() async throws {
        let path = NSTemporaryDirectory() + "journal-\(UUID().uuidString).sqlite"
        defer { try? FileManager.default.removeItem(atPath: path) }
        // A window no test run reaches: only an urgent or waited-for write commits.
        let journal = try JobJournal(path: path, batchWindow: .seconds(3600))
        let tf = HashAlgorithm.sha256.checksum(of: Array("cancelled run".utf8))
        let id = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await journal.run() }
            let id = try await journal.insert(transformation: tf, language: "bash", request: [1], at: 1)
            group.cancelAll()
            try await group.waitForAll()
            return id
        }
        #expect(try await journal.record(id)?.state == .queued)
        var ended = JobRecord(id: id, transformation: tf, state: .succeeded, language: "bash", createdAt: 1)
        ended.finishedAt = 2
        try await journal.write(.record(ended), .batched)
        #expect(
            try await JobJournal(path: path).record(id)?.state == .succeeded, "committed, as another connection sees it"
        )
    }
}
