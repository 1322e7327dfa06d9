import Foundation
import ShunterCore
import ShunterStore
import ShunterTestSupport
import Testing

/// `setResult` returns before its commit (`SQLiteResultStore`'s batches): the store's own
/// readers must see the result at once, a second connection only once it is committed, and
/// no later write may overtake it.
@Suite("batched commits of stored results") struct BatchedResultCommitTests {
    let hash = HashAlgorithm.sha256

    func checksum(_ text: String) -> Checksum { hash.checksum(of: Array(text.utf8)) }

    let record = ExecutionRecord(
        jobID: "job-7", handler: "bash-local", startedAt: 10, finishedAt: 11.25, wallTimeSeconds: 1.25, hostname: "n1")

    @Test("a held-back result is answered at once, and reaches the file with the next commit")
    func heldBackResultIsVisibleToTheStoreAndCommittedLater() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/results.sqlite"
            // A delay no test run reaches: only `commitPending` commits here.
            let store = try SQLiteResultStore(path: path, commitDelay: .seconds(3600))
            let other = try SQLiteResultStore(path: path, readOnly: true)
            let pairs = (0..<3).map { (checksum("tf\($0)"), checksum("result\($0)")) }
            for (transformation, result) in pairs {
                try await store.setResult(result, for: transformation, record: record)
            }
            for (transformation, result) in pairs {
                #expect(try await store.result(for: transformation) == result)
                #expect(try await store.executionRecord(for: transformation) == record)
                #expect(try await other.result(for: transformation) == nil, "committed before its time")
            }
            try await store.commitPending()
            for (transformation, result) in pairs {
                #expect(try await other.result(for: transformation) == result)
                #expect(try await other.executionRecord(for: transformation) == record)
            }
        }
    }

    @Test("without being asked, the held-back results are committed after the delay")
    func scheduledCommitWritesThem() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/results.sqlite"
            let store = try SQLiteResultStore(path: path, commitDelay: .milliseconds(20))
            let other = try SQLiteResultStore(path: path, readOnly: true)
            let transformation = checksum("scheduled")
            try await store.setResult(checksum("value"), for: transformation, record: nil)
            // Polled, not timed: the commit's delay is not what this test is about.
            var seen: Checksum?
            for _ in 0..<500 where seen == nil {
                try await Task.sleep(for: .milliseconds(10))
                seen = try await other.result(for: transformation)
            }
            #expect(seen == checksum("value"), "the scheduled commit never came")
        }
    }

    @Test("writes after a held-back result see it: a replacement wins, an irreproducible mark finds it")
    func laterWritesDoNotOvertakeIt() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/results.sqlite"
            let store = try SQLiteResultStore(path: path, commitDelay: .seconds(3600))
            let replaced = checksum("replaced")
            try await store.setResult(checksum("first"), for: replaced, record: nil)
            try await store.setTransformationResult(checksum("second"), for: replaced)

            let contested = checksum("contested")
            try await store.setResult(checksum("bad"), for: contested, record: record)
            try await store.markIrreproducible(contested, result: checksum("bad"))

            try await store.commitPending()
            let other = try SQLiteResultStore(path: path, readOnly: true)
            for reader in [store, other] {
                #expect(try await reader.result(for: replaced) == checksum("second"))
                #expect(try await reader.transformations(producing: checksum("first")) == [replaced])
                #expect(try await reader.result(for: contested) == nil)
                #expect(try await reader.metadata(for: contested) == nil)
                let moved = try await reader.irreproducibleRecords(for: contested)
                #expect(moved.map(\.result) == [checksum("bad")])
                #expect(moved.first?.metadata["shunter_job_id"] == .string("job-7"))
            }
        }
    }

    @Test("the reverse listing includes held-back results, in the order they were stored")
    func reverseListingCommitsFirst() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteResultStore(path: directory + "/results.sqlite", commitDelay: .seconds(3600))
            let shared = checksum("shared result")
            let transformations = (0..<4).map { checksum("producer\($0)") }
            for transformation in transformations {
                try await store.setResult(shared, for: transformation, record: nil)
            }
            #expect(try await store.transformations(producing: shared) == transformations)
        }
    }

    @Test("a read-only store refuses a result at once rather than failing its commit later")
    func readOnlyStoreRefuses() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/results.sqlite"
            _ = try SQLiteResultStore(path: path)
            let readOnly = try SQLiteResultStore(path: path, readOnly: true)
            await #expect(throws: SeamlessDatabaseError.readOnly) {
                try await readOnly.setResult(checksum("r"), for: checksum("t"), record: nil)
            }
        }
    }
}
