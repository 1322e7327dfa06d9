import Foundation
import ShunterCore
import ShunterTestSupport
import Testing

@testable import ShunterStore

@Suite struct FileBufferStoreTests {
    let hello = Array("hello".utf8)
    let helloSHA256 = try! Checksum(hex: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")

    @Test func writesHashserverPrefixLayoutWithMarker() async throws {
        try await withTemporaryDirectory { directory in
            let store = try FileBufferStore(directory: directory)
            #expect(store.layout == .prefix)
            let checksum = try await store.put(hello, expected: nil)
            #expect(checksum == helloSHA256)
            let path = "\(directory)/2c/\(helloSHA256.hex)"
            #expect(FileManager.default.contents(atPath: path) == Data(hello))
            #expect(FileManager.default.contents(atPath: directory + "/.HASHSERVER_PREFIX") == Data("1\n".utf8))
            // Read-only, as hashserver leaves its buffers; no temporary file left behind.
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            #expect((attributes[.posixPermissions] as? Int) == 0o444)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/2c") == [helloSHA256.hex])
            #expect(try await store.get(checksum) == hello)
            #expect(try await store.length(checksum) == 5)
        }
    }

    @Test func detectsAndReadsFlatLayout() async throws {
        try await withTemporaryDirectory { directory in
            try Data(hello).write(to: URL(fileURLWithPath: "\(directory)/\(helloSHA256.hex)"))
            let store = try FileBufferStore(directory: directory)
            #expect(store.layout == .flat)
            #expect(!FileManager.default.fileExists(atPath: directory + "/.HASHSERVER_PREFIX"))
            #expect(try await store.get(helloSHA256) == hello)
            let other = try await store.put(Array("other".utf8), expected: nil)
            #expect(FileManager.default.fileExists(atPath: "\(directory)/\(other.hex)"))
        }
    }

    @Test func mismatchIsRefusedAndNothingIsWritten() async throws {
        try await withTemporaryDirectory { directory in
            let store = try FileBufferStore(directory: directory)
            do {
                try await store.put(Array("hellx".utf8), expected: helloSHA256)
                Issue.record("a buffer that does not hash to its checksum must be refused")
            } catch BufferStoreError.checksumMismatch(let expected, let actual) {
                #expect(expected == helloSHA256)
                #expect(actual == HashAlgorithm.sha256.checksum(of: Array("hellx".utf8)))
            }
            let streamed = AsyncStream<[UInt8]> { continuation in
                continuation.yield(Array("hel".utf8))
                continuation.yield(Array("lx".utf8))
                continuation.finish()
            }
            await #expect(throws: BufferStoreError.self) {
                try await store.put(streaming: streamed, expected: helloSHA256)
            }
            let prefixDirectory = directory + "/2c"
            let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: prefixDirectory)) ?? []
            #expect(leftovers.isEmpty, "temporary files left behind: \(leftovers)")
            #expect(try await store.has([helloSHA256]) == [false])
        }
    }

    @Test func streamingPutStoresChunks() async throws {
        try await withTemporaryDirectory { directory in
            let store = try FileBufferStore(directory: directory)
            let streamed = AsyncStream<[UInt8]> { continuation in
                continuation.yield(Array("he".utf8))
                continuation.yield(Array("llo".utf8))
                continuation.finish()
            }
            try await store.put(streaming: streamed, expected: helloSHA256)
            #expect(try await store.get(helloSHA256) == hello)
        }
    }

    @Test func corruptFileIsReportedNotServed() async throws {
        try await withTemporaryDirectory { directory in
            let store = try FileBufferStore(directory: directory)
            try FileManager.default.createDirectory(atPath: directory + "/2c", withIntermediateDirectories: true)
            try Data("hellx".utf8).write(to: URL(fileURLWithPath: "\(directory)/2c/\(helloSHA256.hex)"))
            await #expect(throws: StoredBufferError.self) { try await store.get(helloSHA256) }
        }
    }

    @Test func concurrentPutsOfOneBufferAreSafe() async throws {
        try await withTemporaryDirectory { directory in
            let store = try FileBufferStore(directory: directory)
            let buffer = testBytes(count: 3_000_000)
            let checksums = try await withThrowingTaskGroup(of: Checksum.self) { group in
                for _ in 0..<8 { group.addTask { try await store.put(buffer, expected: nil) } }
                return try await group.reduce(into: [Checksum]()) { $0.append($1) }
            }
            #expect(Set(checksums).count == 1)
            let checksum = checksums[0]
            #expect(try await store.get(checksum) == buffer)
            let files = try FileManager.default.contentsOfDirectory(atPath: directory + "/" + checksum.prefix(2))
            #expect(files == [checksum.hex])
        }
    }

    @Test func promisedBufferArrivesForWaitingReader() async throws {
        try await withTemporaryDirectory { directory in
            let store = try FileBufferStore(directory: directory, promiseTimeout: .seconds(30))
            try await store.promise(helloSHA256)
            #expect(try await store.has([helloSHA256]) == [true])
            #expect(try await store.hasNow([helloSHA256]) == [false])
            let reader = Task { try await store.get(helloSHA256) }
            try await Task.sleep(for: .milliseconds(100))
            try await store.put(hello, expected: nil)
            #expect(try await reader.value == hello)
        }
    }

    @Test func aPromiseBlocksOnlyItsReaders() async throws {
        try await withTemporaryDirectory { directory in
            // A promise that does not expire during the test, however slow the machine: the
            // order of events is what is checked, never how long they take.
            let store = try FileBufferStore(directory: directory, promiseTimeout: .seconds(3600))
            let readerEnded = Moment()
            let promisedBuffer = Array("never".utf8)
            let promised = HashAlgorithm.sha256.checksum(of: promisedBuffer)
            try await store.promise(promised)
            let reader = Task { () throws -> [UInt8]? in
                defer { readerEnded.record() }
                return try await store.get(promised)
            }
            while await store.promises.waiterCount(of: promised) == 0 {
                #expect(readerEnded.time == nil, "the reader ended before the promised buffer came")
                if readerEnded.time != nil { return }
                await Task.yield()
            }
            // Other buffers are stored and read while the promised read still waits.
            try await store.put(hello, expected: nil)
            #expect(try await store.get(helloSHA256) == hello)
            #expect(readerEnded.time == nil, "other requests must not wait for the promise")
            #expect(await store.promises.waiterCount(of: promised) == 1)
            try await store.put(promisedBuffer, expected: promised)
            #expect(try await reader.value == promisedBuffer)
        }
    }

    @Test func aBrokenPromiseTimesOut() async throws {
        try await withTemporaryDirectory { directory in
            let store = try FileBufferStore(directory: directory, promiseTimeout: .milliseconds(200))
            let promised = HashAlgorithm.sha256.checksum(of: Array("never".utf8))
            try await store.promise(promised)
            // Whether the read starts before or after the promise expires, it never returns the
            // buffer: it waits and times out, or finds the promise gone and the buffer missing.
            do {
                let buffer = try await store.get(promised)
                #expect(buffer == nil, "a buffer that never came cannot be read")
            } catch let error as BufferStoreError {
                guard case .promiseTimedOut(let checksum, _) = error else {
                    Issue.record("unexpected error \(error)")
                    return
                }
                #expect(checksum == promised)
                #expect(error.description.contains("was promised but did not arrive"))
            }
            #expect(try await store.get(promised) == nil)
            #expect(await store.promises.isPromised(promised) == false)
        }
    }

    @Test func materializeCopiesTheFile() async throws {
        try await withTemporaryDirectory { directory in
            let store = try FileBufferStore(directory: directory + "/buffers")
            let buffer = testBytes(count: 5_000_000)
            let checksum = try await store.put(buffer, expected: nil)
            let target = directory + "/work/input"
            try FileManager.default.createDirectory(atPath: directory + "/work", withIntermediateDirectories: true)
            try await store.materialize(checksum, to: target)
            #expect(FileManager.default.contents(atPath: target) == Data(buffer))
            // The copy is the job's to change; the store's file stays read-only.
            let attributes = try FileManager.default.attributesOfItem(atPath: target)
            #expect((attributes[.posixPermissions] as? Int) == 0o644)
            await #expect(throws: BufferStoreError.self) {
                try await store.materialize(helloSHA256, to: directory + "/work/absent")
            }
        }
    }

    /// A 256 MB upload must not stall a small request: the small one finishes long before.
    @Test func largePutDoesNotStallOtherRequests() async throws {
        try await withTemporaryDirectory { directory in
            let store = try FileBufferStore(directory: directory)
            try await store.put(hello, expected: nil)
            let big = testBytes(count: 256 << 20)
            let clock = ContinuousClock()
            let bigStart = clock.now
            let bigPut = Task { try await store.put(big, expected: nil) }
            try await Task.sleep(for: .milliseconds(20))
            let smallStart = clock.now
            #expect(try await store.get(helloSHA256) == hello)
            let smallTime = clock.now - smallStart
            let checksum = try await bigPut.value
            let bigTime = clock.now - bigStart
            print("256 MB put: \(bigTime); small get during it: \(smallTime)")
            #expect(smallTime < bigTime / 4, "a small get took \(smallTime) while the 256 MB put took \(bigTime)")
            #expect(try await store.length(checksum) == 256 << 20)
        }
    }

    @Test func sha3StoreUsesSha3() async throws {
        try await withTemporaryDirectory { directory in
            let store = try FileBufferStore(directory: directory, hashAlgorithm: .sha3_256)
            let checksum = try await store.put(hello, expected: nil)
            #expect(checksum.hex == "3338be694f50c5f338814986cdf0686453a888b84f424d792af4b9202398f392")
            #expect(try await store.get(checksum) == hello)
        }
    }
}

/// When something happened, recorded once from any task.
final class Moment: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: ContinuousClock.Instant?

    func record() {
        lock.lock()
        defer { lock.unlock() }
        if recorded == nil { recorded = .now }
    }

    var time: ContinuousClock.Instant? {
        lock.lock()
        defer { lock.unlock() }
        return recorded
    }
}

/// A job's result is stored from its open file, hashed while it is copied, never whole in memory.
@Suite struct FileBufferStorePutFromFileTests {
    func openFile(_ path: String, content: [UInt8]) throws -> Int32 {
        #expect(FileManager.default.createFile(atPath: path, contents: Data(content)))
        let fd = open(path, O_RDONLY)
        #expect(fd >= 0)
        return fd
    }

    @Test func storesTheFileUnderItsChecksumAndLeavesNoTemporaryFile() async throws {
        try await withTemporaryDirectory { directory in
            let store = try FileBufferStore(directory: directory + "/store")
            // Larger than one copy chunk, so the copy loops.
            let content = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let fd = try openFile(directory + "/RESULT", content: content)
            defer { close(fd) }
            let checksum = try await store.put(contentsOf: fd, limit: 1 << 30)
            #expect(checksum == HashAlgorithm.sha256.checksum(of: content))
            #expect(try await store.get(checksum) == content)
            let top = try FileManager.default.contentsOfDirectory(atPath: directory + "/store").sorted()
            #expect(top == [".HASHSERVER_PREFIX", checksum.prefix(2)])
            // The same content again: found, nothing left behind either.
            let again = try openFile(directory + "/RESULT2", content: content)
            defer { close(again) }
            #expect(try await store.put(contentsOf: again, limit: 1 << 30) == checksum)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/store").sorted() == top)
        }
    }

    @Test func refusesMoreThanTheLimitAndStoresNothing() async throws {
        try await withTemporaryDirectory { directory in
            let store = try FileBufferStore(directory: directory + "/store")
            let content = [UInt8](repeating: 7, count: 5000)
            let fd = try openFile(directory + "/RESULT", content: content)
            defer { close(fd) }
            await #expect {
                try await store.put(contentsOf: fd, limit: 4999)
            } throws: { error in
                guard case BufferStoreError.tooLarge(let limit) = error else { return false }
                return limit == 4999
            }
            #expect(try await store.has([HashAlgorithm.sha256.checksum(of: content)]) == [false])
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/store") == [".HASHSERVER_PREFIX"])
        }
    }

    @Test func theMemoryStoreTakesAFileToo() async throws {
        try await withTemporaryDirectory { directory in
            let store = MemoryBufferStore()
            let content = Array("a result\n".utf8)
            let fd = try openFile(directory + "/RESULT", content: content)
            defer { close(fd) }
            let checksum = try await store.put(contentsOf: fd, limit: 100)
            #expect(try await store.get(checksum) == content)
            let other = try openFile(directory + "/OTHER", content: content)
            defer { close(other) }
            await #expect(throws: BufferStoreError.self) { try await store.put(contentsOf: other, limit: 3) }
        }
    }
}
