import Foundation
import NIOCore
import ShunterCore
import ShunterStore
import ShunterTestSupport
import Testing

/// Reading a stored buffer's file in chunks (what a large hashserver GET streams).
@Suite struct StoredBufferFileTests {
    let chunk = StoredBufferFile.defaultChunkSize

    /// The chunks a reader gets, in order.
    func chunks(of file: StoredBufferFile, chunkSize: Int? = nil) async throws -> [[UInt8]] {
        var got: [[UInt8]] = []
        try await file.chunks(chunkSize: chunkSize ?? chunk) { got.append(Array($0.readableBytesView)) }
        return got
    }

    /// Overwrites one byte of a stored file in place (the store leaves its files read-only).
    func flipByte(at offset: Int, of path: String) throws {
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(offset))
        let old = try #require(try handle.read(upToCount: 1)).first!
        try handle.seek(toOffset: UInt64(offset))
        try handle.write(contentsOf: [old ^ 0xFF])
    }

    @Test func largeBufferComesInChunksThatAddUpToIt() async throws {
        try await withTemporaryDirectory { directory in
            let store = try FileBufferStore(directory: directory)
            let buffer = testBytes(count: 3 * chunk + 12_345)
            let checksum = try await store.put(buffer, expected: nil)
            let file = try #require(try await store.open(checksum))
            #expect(file.size == buffer.count)
            #expect(file.path == store.path(for: checksum))
            let got = try await chunks(of: file)
            #expect(got.map(\.count) == [chunk, chunk, chunk, 12_345])
            #expect(Array(got.joined()) == buffer)
            // The same file can be read again (pread: no shared offset).
            #expect(try await file.bytes() == buffer)
        }
    }

    @Test func smallAndEmptyBuffersComeWhole() async throws {
        try await withTemporaryDirectory { directory in
            let store = try FileBufferStore(directory: directory)
            let hello = try await store.put(Array("hello".utf8), expected: nil)
            #expect(try await chunks(of: try #require(try await store.open(hello))) == [Array("hello".utf8)])
            let empty = try await store.put([], expected: nil)
            let emptyFile = try #require(try await store.open(empty))
            #expect(emptyFile.size == 0)
            #expect(try await chunks(of: emptyFile).isEmpty)
            #expect(try await store.get(empty) == [])
        }
    }

    /// Corruption near the start is only known once the whole file is hashed: the reader gets
    /// every chunk but the last, then the error, so a streamed answer ends short of its length.
    @Test func corruptLargeFileIsCutBeforeItsLastChunk() async throws {
        try await withTemporaryDirectory { directory in
            let store = try FileBufferStore(directory: directory)
            let buffer = testBytes(count: 2 * chunk + 100)
            let checksum = try await store.put(buffer, expected: nil)
            try flipByte(at: 10, of: store.path(for: checksum))
            let file = try #require(try await store.open(checksum))
            var received = 0
            do {
                try await file.chunks(chunkSize: chunk) { received += $0.readableBytes }
                Issue.record("a corrupt file must not be read to its end")
            } catch StoredBufferError.corrupt(let path, let expected, let actual) {
                #expect(path == store.path(for: checksum))
                #expect(expected == checksum)
                #expect(actual != checksum)
            }
            #expect(received == 2 * chunk, "everything but the last chunk, never the last")
            await #expect(throws: StoredBufferError.self) { try await store.get(checksum) }
        }
    }

    /// A single-chunk file is verified before its only chunk is handed over.
    @Test func corruptSmallFileGivesNothing() async throws {
        try await withTemporaryDirectory { directory in
            let store = try FileBufferStore(directory: directory)
            let checksum = try await store.put(testBytes(count: 5000), expected: nil)
            try flipByte(at: 4999, of: store.path(for: checksum))
            let file = try #require(try await store.open(checksum))
            var received = 0
            do {
                try await file.chunks { received += $0.readableBytes }
                Issue.record("a corrupt file must not be read")
            } catch is StoredBufferError {}
            #expect(received == 0)
        }
    }

    /// `verifiesReads: false` trusts the files (they were verified when written): what is on
    /// disk is served as it is.
    @Test func unverifiedStoreServesTheFileAsItIs() async throws {
        try await withTemporaryDirectory { directory in
            let store = try FileBufferStore(directory: directory, verifiesReads: false)
            let buffer = testBytes(count: chunk + 1)
            let checksum = try await store.put(buffer, expected: nil)
            try flipByte(at: 0, of: store.path(for: checksum))
            let got = try await store.get(checksum)
            #expect(got?.count == buffer.count)
            #expect(got?.first == buffer[0] ^ 0xFF)
        }
    }

    @Test func openWaitsForAPromisedBufferAndAnswersNilForAnAbsentOne() async throws {
        try await withTemporaryDirectory { directory in
            let store = try FileBufferStore(directory: directory, promiseTimeout: .seconds(30))
            let buffer = testBytes(count: chunk + 7, seed: 3)
            let checksum = HashAlgorithm.sha256.checksum(of: buffer)
            #expect(try await store.open(checksum) == nil)
            try await store.promise(checksum)
            let reader = Task { try await store.open(checksum)?.bytes() }
            try await store.put(buffer, expected: checksum)
            #expect(try await reader.value == buffer)
        }
    }

    @Test func compressedOnlyCopyIsReported() async throws {
        try await withTemporaryDirectory { directory in
            let store = try FileBufferStore(directory: directory)
            let checksum = HashAlgorithm.sha256.checksum(of: Array("zipped".utf8))
            try FileManager.default.createDirectory(
                atPath: directory + "/" + checksum.prefix(2), withIntermediateDirectories: true)
            try Data([0x28, 0xB5, 0x2F, 0xFD]).write(to: URL(fileURLWithPath: store.path(for: checksum) + ".zst"))
            await #expect(throws: StoredBufferError.self) { try await store.open(checksum) }
        }
    }
}
