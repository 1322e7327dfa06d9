import Foundation
import ShunterCore
import ShunterTestSupport
import Testing

@testable import ShunterStore

@Suite struct InterruptedWriteTests {
    @Test("temporary files of interrupted writes go; one being written right now and stored buffers stay")
    func removesOnlyAbandonedTemporaryFiles() async throws {
        try await withTemporaryDirectory { directory in
            let store = try FileBufferStore(directory: directory)
            let kept = try await store.put(Array("kept\n".utf8), expected: nil)
            let abandoned = directory + "/ab/" + String(repeating: "ab", count: 32) + "-a1B2c3"
            let flat = directory + "/" + String(repeating: "cd", count: 32) + "-Zz9Yy8"
            let notOurs = directory + "/ab/" + "notes-a1B2c3"
            try FileManager.default.createDirectory(atPath: directory + "/ab", withIntermediateDirectories: true)
            for path in [abandoned, flat, notOurs] {
                #expect(FileManager.default.createFile(atPath: path, contents: Data(repeating: 1, count: 1000)))
            }

            // A write in flight: its first chunk is on disk, the rest has not arrived.
            let body = Array(String(repeating: "streamed ", count: 1000).utf8)
            let checksum = HashAlgorithm.sha256.checksum(of: body)
            let (chunks, feed) = AsyncStream.makeStream(of: [UInt8].self)
            feed.yield(Array(body[..<10]))
            let upload = Task { try await store.put(streaming: chunks, expected: checksum) }
            let parent = directory + "/" + checksum.hex.prefix(2)
            let deadline = ContinuousClock.now + .seconds(20)
            func inFlight() -> [String] {
                ((try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []).filter {
                    $0.hasPrefix(checksum.hex + "-")
                }
            }
            while inFlight().isEmpty {
                guard ContinuousClock.now < deadline else {
                    throw StoreTestFailure("the upload's temporary file never appeared")
                }
                try await Task.sleep(for: .milliseconds(10))
            }

            let removed = await store.removeInterruptedWrites()
            #expect(removed.files == 2)
            #expect(removed.bytes == 2000)
            #expect(!FileManager.default.fileExists(atPath: abandoned))
            #expect(!FileManager.default.fileExists(atPath: flat))
            #expect(FileManager.default.fileExists(atPath: notOurs), "a name that is not <checksum>-XXXXXX is not ours")
            #expect(inFlight().count == 1, "the write in flight keeps its file")

            feed.yield(Array(body[10...]))
            feed.finish()
            #expect(try await upload.value == checksum)
            #expect(try await store.get(checksum) == body)
            #expect(try await store.get(kept) == Array("kept\n".utf8))
        }
    }

    @Test("a streamed result's temporary file goes at start only, when nothing can be writing it")
    func streamedResultFilesGoAtStart() async throws {
        try await withTemporaryDirectory { directory in
            let store = try FileBufferStore(directory: directory)
            let incoming = directory + "/incoming-Qw3rTy"
            let notOurs = directory + "/incoming-notes.txt"
            for path in [incoming, notOurs] {
                #expect(FileManager.default.createFile(atPath: path, contents: Data(repeating: 1, count: 100)))
            }
            #expect(
                await store.removeInterruptedWrites().files == 0,
                "housekeeping cannot tell it from a result being stored")
            #expect(FileManager.default.fileExists(atPath: incoming))
            let removed = await store.removeInterruptedWrites(atStart: true)
            #expect(removed.files == 1 && removed.bytes == 100)
            #expect(!FileManager.default.fileExists(atPath: incoming))
            #expect(FileManager.default.fileExists(atPath: notOurs), "not a name the store makes")

            // A result streamed in afterwards still stores (the name it uses is the one removed).
            let bytes = Array("streamed result\n".utf8)
            let source = directory + "/../result-\(UUID().uuidString)"
            #expect(FileManager.default.createFile(atPath: source, contents: Data(bytes)))
            defer { try? FileManager.default.removeItem(atPath: source) }
            let fd = open(source, O_RDONLY)
            #expect(fd >= 0)
            defer { close(fd) }
            let checksum = try await store.put(contentsOf: fd, limit: 1 << 20)
            #expect(try await store.get(checksum) == bytes)
            let left = try FileManager.default.contentsOfDirectory(atPath: directory).filter {
                $0.hasPrefix("incoming-")
            }
            #expect(left == ["incoming-notes.txt"], "the streamed put leaves no temporary file")
        }
    }
}

struct StoreTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
