import Foundation
import ShunterCore
import ShunterStore
import ShunterTestSupport
import Testing

@Suite("WALCheckpointer")
struct WALCheckpointerTests {
    func checksum(_ text: String) -> Checksum { HashAlgorithm.sha256.checksum(of: Array(text.utf8)) }

    @Test("the result cache's writer checkpoints only as a backstop, far past SQLite's 1 000 pages")
    func writerBackstop() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteResultStore(path: directory + "/results.sqlite")
            #expect(try store.writerAutocheckpointPages() == WALCheckpointer.writerBackstopPages)
            #expect(WALCheckpointer.writerBackstopPages > 1_000)
        }
    }

    @Test("every commitsPerCheckpoint-th commit schedules one checkpoint, run on the checkpointer's queue")
    func scheduling() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/results.sqlite"
            _ = try SQLiteResultStore(path: path)
            let checkpointer = try WALCheckpointer(path: path, label: "test", commitsPerCheckpoint: 10)
            for _ in 0..<9 { checkpointer.noteCommit() }
            checkpointer.waitForScheduledCheckpoints()
            #expect(checkpointer.checkpointsRun == 0)
            for _ in 0..<26 { checkpointer.noteCommit() }
            checkpointer.waitForScheduledCheckpoints()
            #expect(checkpointer.checkpointsRun == 3)
        }
    }

    @Test("its own connection copies the whole log into the database while the store stays open")
    func copiesTheLog() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/results.sqlite"
            let store = try SQLiteResultStore(path: path)
            // Fewer commits than the store's own checkpointer waits for: the log holds them all.
            for index in 0..<20 {
                try await store.setResult(checksum("result \(index)"), for: checksum("tf \(index)"), record: nil)
            }
            let checkpointer = try WALCheckpointer(path: path, label: "test")
            let frames = try #require(checkpointer.checkpoint())
            #expect(frames.walFrameCount > 20)
            #expect(frames.checkpointedFrameCount == frames.walFrameCount)
            #expect(try await store.result(for: checksum("tf 19")) == checksum("result 19"))
        }
    }
}
