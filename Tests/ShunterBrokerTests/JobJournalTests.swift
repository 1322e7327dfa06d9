import Foundation
import ShunterBroker
import ShunterCore
import ShunterStore
import Testing

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
        #expect(try await reopened.statistics().jobsByState[.queued] == 500)
    }

    @Test("commits are fsynced when durability is full: the writer really runs with synchronous = FULL")
    func writerIsFullySynchronous() async throws {
        let path = NSTemporaryDirectory() + "journal-\(UUID().uuidString).sqlite"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let journal = try JobJournal(path: path)
        #expect(try await journal.statistics().synchronous == "full")
        // A batch with nothing durable in it commits without its own fsync; the next durable
        // one has it again.
        let id = try await journal.insert(
            transformation: HashAlgorithm.sha256.checksum(of: Array("y".utf8)), language: "bash", request: [1], at: 1)
        var record = try #require(try await journal.record(id))
        record.state = .preparing
        try await journal.write(.record(record), .committed)
        #expect(try await journal.statistics().synchronous == "normal")
        record.state = .running
        try await journal.write(.record(record), .durable)
        #expect(try await journal.statistics().synchronous == "full")
        #expect(try await journal.record(id)?.state == .running)
        #expect(try await JobJournal(path: path, durability: .normal).statistics().synchronous == "normal")
    }

    @Test(
        "memory-only writes nothing; a deferred record waits, a later write of the job supersedes it, commitPending writes it"
    )
    func memoryOnlyAndDeferred() async throws {
        let path = NSTemporaryDirectory() + "journal-\(UUID().uuidString).sqlite"
        defer { try? FileManager.default.removeItem(atPath: path) }
        // A deferral and a window no test run reaches: only what the test asks for is written.
        let journal = try JobJournal(path: path, deferral: .seconds(3600), batchWindow: .seconds(3600))
        let tf = HashAlgorithm.sha256.checksum(of: Array("deferred".utf8))
        let id = try await journal.insert(transformation: tf, language: "bash", request: [1], at: 1)
        var record = try #require(try await journal.record(id))
        let before = try await journal.statistics().writtenRows

        record.state = .preparing
        try await journal.write(.record(record), .memoryOnly)
        record.state = .running
        record.externalID = "held-back"
        try await journal.write(.record(record), .deferred)
        #expect(try await journal.record(id)?.state == .queued, "neither is written yet")
        record.externalID = nil
        record.state = .failed
        try await journal.write(.record(record), .committed)
        try await journal.commitPending()
        #expect(try await journal.record(id)?.state == .failed)
        #expect(try await journal.record(id)?.externalID == nil, "the held-back record was dropped, not written after")
        #expect(try await journal.statistics().writtenRows - before == 2, "the committed write and the barrier")

        let second = try await journal.insert(transformation: tf, language: "bash", request: [2], at: 2)
        var held = try #require(try await journal.record(second))
        held.state = .running
        held.externalID = "local:1"
        try await journal.write(.record(held), .deferred)
        try await journal.commitPending()
        #expect(try await journal.record(second)?.externalID == "local:1", "a graceful stop writes what was held back")
    }

    @Test("a batched insert waits for the next commit, which an urgent write brings at once")
    func batchedInsertGoesWithTheNextCommit() async throws {
        let path = NSTemporaryDirectory() + "journal-\(UUID().uuidString).sqlite"
        defer { try? FileManager.default.removeItem(atPath: path) }
        // A window no test run reaches: only an urgent write commits here.
        let journal = try JobJournal(path: path, batchWindow: .seconds(3600))
        let tf = HashAlgorithm.sha256.checksum(of: Array("batched".utf8))
        try await withRunningJournal(journal) {
            let batched = try await journal.insert(
                transformation: tf, language: "bash", request: [7], at: 1, durability: .eventually)
            #expect(try await journal.record(batched) == nil, "committed before its batch")
            var ended = JobRecord(id: batched, transformation: tf, state: .succeeded, language: "bash", createdAt: 1)
            ended.finishedAt = 2
            // A job's end waits for the batch too: it returns once an urgent write has committed it.
            async let end: Void = journal.write(.record(ended), .batched)
            let urgent = try await journal.insert(transformation: tf, language: "bash", request: [8], at: 3)
            try await end
            #expect(try await journal.record(batched)?.state == .succeeded)
            #expect(try await journal.record(urgent)?.state == .queued)
            #expect(urgent.rawValue > batched.rawValue)
        }
    }

    @Test(
        "without the journal's run(), a write that is waited for is committed in its caller's task, taking what is pending along"
    )
    func waitedForWriteCommitsWithoutRun() async throws {
        let path = NSTemporaryDirectory() + "journal-\(UUID().uuidString).sqlite"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let journal = try JobJournal(path: path, batchWindow: .seconds(3600))
        let tf = HashAlgorithm.sha256.checksum(of: Array("inline".utf8))
        let eventual = try await journal.insert(
            transformation: tf, language: "bash", request: [1], at: 1, durability: .eventually)
        #expect(try await journal.record(eventual) == nil, "nothing commits what nobody waits for")
        var ended = JobRecord(id: eventual, transformation: tf, state: .succeeded, language: "bash", createdAt: 1)
        ended.finishedAt = 2
        // A batched write with no window running: committed now, with the insert before it.
        try await journal.write(.record(ended), .batched)
        #expect(try await journal.record(eventual)?.state == .succeeded)
    }

    @Test("without an urgent write, the batch is committed when its window ends")
    func windowEndCommits() async throws {
        let path = NSTemporaryDirectory() + "journal-\(UUID().uuidString).sqlite"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let journal = try JobJournal(path: path, batchWindow: .milliseconds(20))
        let tf = HashAlgorithm.sha256.checksum(of: Array("window".utf8))
        try await withRunningJournal(journal) {
            let ids = try await (0..<5).asyncMap { index in
                try await journal.insert(
                    transformation: tf, language: "bash", request: [UInt8(index)], at: 1, durability: .eventually)
            }
            // Polled, not timed.
            var committed = 0
            for _ in 0..<500 where committed < ids.count {
                try await Task.sleep(for: .milliseconds(10))
                committed = try await journal.unfinished().count
            }
            #expect(committed == ids.count, "the window's commit never came")
        }
    }

    @Test("ids are never handed out twice, even when a crash lost the batched insert that had one")
    func idsSurviveALostBatch() async throws {
        let path = NSTemporaryDirectory() + "journal-\(UUID().uuidString).sqlite"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let tf = HashAlgorithm.sha256.checksum(of: Array("lost".utf8))
        let kept: JobID
        let lost: JobID
        do {
            let crashed = try JobJournal(path: path, batchWindow: .seconds(3600))
            kept = try await crashed.insert(transformation: tf, language: "bash", request: [1], at: 1)
            lost = try await crashed.insert(
                transformation: tf, language: "bash", request: [2], at: 2, durability: .eventually)
            // Never committed: the process "dies" with the insert pending (the journal is
            // abandoned, as a kill -9 would leave it).
        }
        let restarted = try JobJournal(path: path)
        #expect(try await restarted.record(lost) == nil)
        let unjournaled = try #require(restarted.unjournaledIDs)
        #expect(unjournaled.contains(lost.rawValue))
        #expect(!unjournaled.contains(kept.rawValue))
        let next = try await restarted.insert(transformation: tf, language: "bash", request: [3], at: 3)
        #expect(next.rawValue > lost.rawValue)
        #expect(!unjournaled.contains(next.rawValue), "a new id must come after the ones reserved before")
    }

    @Test("ids past a reserved block reserve the next one; the rows keep the ids they were given")
    func idsCrossReservedBlocks() async throws {
        let path = NSTemporaryDirectory() + "journal-\(UUID().uuidString).sqlite"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let journal = try JobJournal(path: path, batchWindow: .seconds(3600))
        let tf = HashAlgorithm.sha256.checksum(of: Array("blocks".utf8))
        var ids: [JobID] = []
        for _ in 0..<1100 {
            ids.append(
                try await journal.insert(
                    transformation: tf, language: "bash", request: [], at: 1, durability: .eventually))
        }
        try await journal.commitPending()
        #expect(ids.map(\.rawValue) == Array(1...1100))
        #expect(try await journal.unfinished().map(\.record.id) == ids)
        let reopened = try JobJournal(path: path)
        #expect(reopened.unjournaledIDs == 1101...2048, "the rest of the second block, reserved and never used")
        #expect(try await reopened.insert(transformation: tf, language: "bash", request: [], at: 2).rawValue == 2049)
    }

    @Test("the writer checkpoints only as a backstop: its commits run on an event loop, the checkpoints beside it")
    func writerLeavesCheckpoints() async throws {
        let path = NSTemporaryDirectory() + "journal-\(UUID().uuidString).sqlite"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let journal = try JobJournal(path: path)
        #expect(try await journal.statistics().autocheckpointPages == WALCheckpointer.writerBackstopPages)
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
        try await journal.write(.record(record), .durable)
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
