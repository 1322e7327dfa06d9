import Foundation
import Testing
import ShunterBroker
import ShunterCore
import ShunterStore

@Suite("Job journal")
struct JobJournalTests {
    @Test("a burst of concurrent inserts is group-committed and every row is there with its own id")
    func concurrentInserts() async throws {
        let path = NSTemporaryDirectory() + "journal-\(UUID().uuidString).sqlite"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let journal = try JobJournal(path: path)
        let checksum = HashAlgorithm.sha256.checksum(of: Array("x".utf8))
        let ids = try await withThrowingTaskGroup(of: JobID.self) { group in
            for _ in 0..<500 {
                group.addTask {
                    try await journal.insert(transformation: checksum, language: "bash", request: [1, 2, 3], at: 1)
                }
            }
            return try await group.reduce(into: Set<JobID>()) { $0.insert($1) }
        }
        #expect(ids.count == 500)
        let reopened = try JobJournal(path: path)
        #expect(try await reopened.unfinished().count == 500)
        #expect(try await reopened.stateCounts()[.queued] == 500)
    }

    @Test("commits are fsynced when durability is full: the writer really runs with synchronous = FULL")
    func writerIsFullySynchronous() async throws {
        let path = NSTemporaryDirectory() + "journal-\(UUID().uuidString).sqlite"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let journal = try JobJournal(path: path)
        #expect(try await journal.writerSynchronous() == 2)
        // A batch with nothing durable in it commits without its own fsync; the next durable
        // one has it again.
        let id = try await journal.insert(
            transformation: HashAlgorithm.sha256.checksum(of: Array("y".utf8)), language: "bash", request: [1], at: 1)
        var record = try #require(try await journal.record(id))
        record.state = .preparing
        try await journal.update(record, durable: false)
        #expect(try await journal.writerSynchronous() == 1)
        record.state = .running
        try await journal.update(record)
        #expect(try await journal.writerSynchronous() == 2)
        #expect(try await journal.record(id)?.state == .running)
        #expect(try await JobJournal(path: path, durability: .normal).writerSynchronous() == 1)
    }

    @Test("the writer checkpoints only as a backstop: its commits run on an event loop, the checkpoints beside it")
    func writerLeavesCheckpoints() async throws {
        let path = NSTemporaryDirectory() + "journal-\(UUID().uuidString).sqlite"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let journal = try JobJournal(path: path)
        #expect(try await journal.writerAutocheckpointPages() == WALCheckpointer.writerBackstopPages)
    }

    @Test("updates are read back whole, and finished jobs are not 'unfinished'")
    func updateRoundTrip() async throws {
        let path = NSTemporaryDirectory() + "journal-\(UUID().uuidString).sqlite"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let journal = try JobJournal(path: path)
        let tf = HashAlgorithm.sha256.checksum(of: Array("tf".utf8))
        let result = HashAlgorithm.sha256.checksum(of: Array("result".utf8))
        let id = try await journal.insert(transformation: tf, language: "bash", request: Array("{}".utf8), at: 10)
        var record = try #require(try await journal.record(id))
        #expect(record.state == .queued)
        record.state = .succeeded
        record.handler = "h"
        record.result = result
        record.externalID = "slurm-42"
        record.stderrTail = "ünïcode"
        try await journal.update(record)
        let back = try #require(try await journal.record(id))
        #expect(back == record)
        #expect(try await journal.unfinished().isEmpty)
        #expect(try await journal.list(JobFilter(states: [.succeeded], handler: "h")).map(\.id) == [id])
        #expect(try await journal.list(JobFilter(states: [.failed])).isEmpty)
    }

    @Test("a journal path that cannot be created is an error that names it")
    func unwritablePath() {
        #expect {
            _ = try JobJournal(path: "/proc/no-such-dir/journal.sqlite")
        } throws: { error in
            "\(error)".contains("/proc/no-such-dir")
        }
    }
}
