import Foundation
import ShunterCore
import ShunterStore
import Testing

@testable import ShunterBroker

/// The journal does not keep everything forever: capped texts, retention of ended jobs, paging.
@Suite("Journal retention, caps and paging")
struct JournalRetentionTests {
    func withJournal(_ body: (JobJournal) async throws -> Void) async throws {
        let path = NSTemporaryDirectory() + "journal-\(UUID().uuidString).sqlite"
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        try await body(try JobJournal(path: path))
    }

    let tf = HashAlgorithm.sha256.checksum(of: Array("retention".utf8))

    @Test(
        "a long text keeps its head and its tail within the limit, cut on character boundaries, with what was cut said")
    func cappedText() {
        #expect(StoredText.capped("short", limit: 100) == "short")
        let long = String(repeating: "é", count: 50_000) + "THE END"
        let capped = StoredText.capped("BEGIN" + long, limit: 1000)
        #expect(capped.utf8.count <= 1000)
        #expect(capped.hasPrefix("BEGINéé"))
        #expect(capped.hasSuffix("ééTHE END"))
        #expect(capped.contains("bytes cut here"))
        #expect(!capped.contains("\u{FFFD}"), "a character was cut in two")
        let cut = Int(capped.split(separator: "[... ")[1].split(separator: " ")[0])!
        #expect(
            capped.utf8.count
                - ("\n[... \(cut) bytes cut here: the record keeps the first and last part of this text ...]\n").utf8
                .count + cut
                == ("BEGIN" + long).utf8.count)
    }

    @Test("a failed job's megabytes of error text and output are journaled capped at 64 KiB each")
    func journaledTextsAreCapped() async throws {
        try await withJournal { journal in
            let id = try await journal.insert(transformation: tf, language: "bash", request: [1], at: 1)
            var record = try #require(try await journal.record(id))
            record.state = .failed
            record.finishedAt = 2
            record.error = "first line\n" + String(repeating: "x", count: 4 << 20) + "\nlast line"
            record.stdoutTail = String(repeating: "o", count: 1 << 20)
            record.stderrTail = "short"
            try await journal.write(.record(record), .durable)
            let stored = try #require(try await journal.record(id))
            let error = try #require(stored.error)
            #expect(error.utf8.count <= 64 << 10)
            #expect(error.hasPrefix("first line\n") && error.hasSuffix("\nlast line"))
            #expect((stored.stdoutTail?.utf8.count ?? 0) <= 64 << 10)
            #expect(stored.stderrTail == "short")
        }
    }

    @Test(
        "records of jobs that ended before the cut-off are removed; newer ones, unfinished ones and the newest row stay"
    )
    func retention() async throws {
        try await withJournal { journal in
            var ids: [JobID] = []
            for index in 0..<5 {
                ids.append(
                    try await journal.insert(transformation: tf, language: "bash", request: [1], at: Double(index)))
            }
            func end(_ id: JobID, at time: Double, _ state: JobState) async throws {
                var record = try #require(try await journal.record(id))
                record.state = state
                record.finishedAt = time
                try await journal.write(.record(record), .durable)
            }
            try await end(ids[0], at: 100, .succeeded)
            try await end(ids[1], at: 100, .failed)
            try await end(ids[2], at: 900, .succeeded)
            // ids[3] has not ended; ids[4], the newest, ended long ago but stays as the highest id.
            try await end(ids[4], at: 100, .cancelled)
            #expect(try await journal.removeEnded(before: 500) == 2)
            #expect(try await journal.record(ids[0]) == nil)
            #expect(try await journal.record(ids[1]) == nil)
            #expect(try await journal.record(ids[2]) != nil)
            #expect(try await journal.record(ids[3])?.state == .queued)
            #expect(try await journal.record(ids[4]) != nil)
        }
    }

    @Test("a listing pages: after= gives the jobs older than the cursor, newest first")
    func paging() async throws {
        try await withJournal { journal in
            var ids: [JobID] = []
            for index in 0..<7 {
                ids.append(
                    try await journal.insert(transformation: tf, language: "bash", request: [1], at: Double(index)))
            }
            let first = try await journal.list(JobFilter(limit: 3))
            #expect(first.map(\.id) == [ids[6], ids[5], ids[4]])
            let second = try await journal.list(JobFilter(limit: 3, after: first.last!.id))
            #expect(second.map(\.id) == [ids[3], ids[2], ids[1]])
            let last = try await journal.list(JobFilter(limit: 3, after: second.last!.id))
            #expect(last.map(\.id) == [ids[0]])
            #expect(
                JobFilter(after: ids[3]).matches(
                    JobRecord(id: ids[4], transformation: tf, state: .queued, language: "bash", createdAt: 0)) == false)
        }
    }
}
