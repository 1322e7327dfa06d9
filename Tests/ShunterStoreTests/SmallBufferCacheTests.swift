import Foundation
import ShunterCore
import ShunterTestSupport
import Testing

@testable import ShunterStore

@Suite("small buffers kept in memory") struct SmallBufferCacheTests {
    let hash = HashAlgorithm.sha256

    @Test("a small buffer stored or read once is answered without its file; a large one is not kept")
    func smallBuffersAreAnsweredFromMemory() async throws {
        try await withTemporaryDirectory { directory in
            let store = try FileBufferStore(directory: directory)
            let small = Array("echo $a > RESULT\n".utf8)
            let large = [UInt8](repeating: 7, count: store.recent.entryLimit + 1)
            let smallChecksum = try await store.put(small, expected: nil)
            let largeChecksum = try await store.put(large, expected: nil)
            for checksum in [smallChecksum, largeChecksum] {
                #expect(unlink(store.path(for: checksum)) == 0)
            }
            #expect(try await store.get(smallChecksum) == small)
            #expect(
                try await store.get(largeChecksum) == nil, "a buffer past the entry limit must be read from its file")

            // Read (and verified) from a file written by someone else, then kept.
            let read = Array("read once".utf8)
            let readChecksum = hash.checksum(of: read)
            let path = store.path(for: readChecksum)
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(read).write(to: URL(fileURLWithPath: path))
            #expect(try await store.get(readChecksum) == read)
            #expect(unlink(path) == 0)
            #expect(try await store.get(readChecksum) == read)
        }
    }

    @Test("a corrupt file read is reported and not kept")
    func corruptReadIsNotKept() async throws {
        try await withTemporaryDirectory { directory in
            let store = try FileBufferStore(directory: directory)
            let expected = Array("hello".utf8)
            let checksum = hash.checksum(of: expected)
            let path = store.path(for: checksum)
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data("hellx".utf8).write(to: URL(fileURLWithPath: path))
            await #expect(throws: StoredBufferError.self) { try await store.get(checksum) }
            #expect(store.recent.buffer(for: checksum) == nil)
            await #expect(throws: StoredBufferError.self) { try await store.get(checksum) }
        }
    }

    @Test("past its byte limit the oldest entries go first")
    func evictsOldestFirst() {
        let cache = SmallBufferCache(entryLimit: 16, totalLimit: 30)
        let buffers = (0..<4).map { [UInt8](repeating: UInt8($0), count: 10) }
        let checksums = buffers.map { hash.checksum(of: $0) }
        for (buffer, checksum) in zip(buffers, checksums) { cache.keep(buffer, for: checksum) }
        #expect(cache.buffer(for: checksums[0]) == nil)
        for index in 1..<4 { #expect(cache.buffer(for: checksums[index]) == buffers[index]) }
        #expect(cache.counts.entries == 3)
        #expect(cache.counts.bytes == 30)
        // Keeping one again neither counts it twice nor moves it.
        cache.keep(buffers[1], for: checksums[1])
        #expect(cache.counts.bytes == 30)
        cache.keep([UInt8](repeating: 9, count: 17), for: hash.checksum(of: [9]))
        #expect(cache.counts.entries == 3, "a buffer past the entry limit is not kept")
    }

    @Test("many evictions keep the bookkeeping bounded and the newest entries")
    func longRunStaysBounded() {
        let cache = SmallBufferCache(entryLimit: 8, totalLimit: 80)
        var last: [(Checksum, [UInt8])] = []
        for index in 0..<5000 {
            let buffer = Array(String(format: "%08d", index).utf8)
            let checksum = hash.checksum(of: buffer)
            cache.keep(buffer, for: checksum)
            last.append((checksum, buffer))
            if last.count > 10 { last.removeFirst() }
        }
        #expect(cache.counts.entries == 10)
        for (checksum, buffer) in last { #expect(cache.buffer(for: checksum) == buffer) }
    }
}
