import Foundation
import GRDB
import ShunterBroker
import ShunterCore
import ShunterStore
import Testing

@Suite("recovery never lets a journaled job keep the broker down")
struct RecoveryGuardTests {
    @Test("jobs whose row cannot be read, whose request cannot be parsed or does not match fail; the others run")
    func unrecoverableJobsFailAndTheOthersRun() async throws {
        let fixture = try BrokerFixture()
        defer { fixture.remove() }
        let journal = try fixture.journal()
        let good = try await fixture.bash("echo good > RESULT")
        let goodID = try await fixture.journalJob(good, in: journal)
        let other = try await fixture.bash("echo other > RESULT")
        // A request that is not JSON at all.
        let garbled = try await journal.insert(
            transformation: other.checksum, language: "bash", request: Array("{\"dict\": [".utf8), at: 1)
        // A request for another transformation than the row's.
        let mismatched = try await journal.insert(
            transformation: other.checksum, language: "bash", request: JobRequest(transformation: good).journalBytes(),
            at: 1)
        // A row whose columns hold values of the wrong type (a hand-edited journal).
        let unreadable = try await fixture.journalJob(try await fixture.bash("echo x > RESULT"), in: journal)
        let badState = try await fixture.journalJob(try await fixture.bash("echo y > RESULT"), in: journal)
        let queue = try DatabaseQueue(path: fixture.root + "/journal.sqlite")
        try await queue.write { db in
            try db.execute(
                sql: "UPDATE jobs SET attempts = 'many', created_at = 'yesterday' WHERE id = ?",
                arguments: [unreadable.rawValue])
            try db.execute(
                sql: "UPDATE jobs SET tf_checksum = 'not-a-checksum' WHERE id = ?", arguments: [badState.rawValue])
        }
        try queue.close()

        try await fixture.withBroker { broker in
            let outcome = try await broker.wait(goodID)
            #expect(outcome.status == .succeeded, "\(outcome.error ?? "")")
            #expect(try await fixture.text(of: outcome.result) == "good\n")
            // Read column by column: the unreadable rows still cannot be decoded as a whole.
            let ended = try DatabaseQueue(path: fixture.root + "/journal.sqlite")
            for (id, fragment) in [
                (garbled, "cannot be run again after a restart"), (mismatched, "journal row says \(other.checksum)"),
                (unreadable, "journal entry cannot be read"), (badState, "tf_checksum"),
            ] {
                let row = try ended.read { db in
                    try Row.fetchOne(db, sql: "SELECT state, error FROM jobs WHERE id = ?", arguments: [id.rawValue])
                }
                #expect(row?["state"] as String? == "failed", "job \(id)")
                let error = row?["error"] as String? ?? ""
                #expect(error.contains(fragment), "job \(id): \(error)")
            }
            try ended.close()
            await broker.shutdown()
        }
    }

    @Test(
        "a job found unfinished by more starts in a row than the limit fails without running; a graceful stop resets the count"
    )
    func poisonJobGuard() async throws {
        let fixture = try BrokerFixture()
        defer { fixture.remove() }
        let counter = fixture.root + "/runs.txt"
        let journal = try fixture.journal()
        let poison = try await fixture.bash("echo run >> \(counter); echo 1 > RESULT")
        let poisonID = try await fixture.journalJob(
            poison, in: journal, state: .running, handler: "bash-local", attempts: 3)
        // Three starts that each found it in flight and then died with it (no graceful stop).
        for count in 1...Broker.recoveryLimit {
            _ = try await journal.beginRecovery()
            #expect(try await journal.recoveries(of: poisonID) == count)
        }

        try await fixture.withBroker(journal: journal) { broker in
            let record = try #require(try await broker.record(poisonID))
            #expect(record.state == .failed)
            #expect(
                record.error?.contains("\(Broker.recoveryLimit + 1) times in a row") == true, "\(record.error ?? "")")
            #expect(!FileManager.default.fileExists(atPath: counter), "the poison job must not run again")
            await broker.shutdown()

            // A job stopped by a graceful stop is not counted as in flight at a crash.
            let release = fixture.root + "/release"
            let started = fixture.root + "/started"
            let waiting = try await fixture.bash(
                "touch \(started); while [ ! -e \(release) ]; do sleep 0.05; done; echo 2 > RESULT")
            try await fixture.withBroker(journal: journal) { second in
                guard case .job(let waitingID) = try await second.submit(waiting) else {
                    throw BrokerTestFailure("expected a job")
                }
                try await waitUntil { FileManager.default.fileExists(atPath: started) }
                await second.shutdown()
                try FileManager.default.removeItem(atPath: started)
                // Recovered once (counted), then stopped gracefully again (forgotten).
                try await fixture.withBroker(journal: journal) { third in
                    #expect(try await journal.recoveries(of: waitingID) == 1)
                    try await waitUntil { FileManager.default.fileExists(atPath: started) }
                    await third.shutdown()
                    #expect(try await journal.recoveries(of: waitingID) == 0)
                    _ = FileManager.default.createFile(atPath: release, contents: nil)
                    try await fixture.withBroker(journal: journal) { fourth in
                        let status = try await fourth.wait(waitingID).status
                        #expect(status == .succeeded)
                        await fourth.shutdown()
                    }
                }
            }
        }
    }
}
