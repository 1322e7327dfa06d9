import Foundation
import ShunterCore
import ShunterStore
import ShunterTestSupport
import Testing

@Suite struct MemoryBufferStoreTests {
    // sha256("hello"), as `printf hello | sha256sum` prints it.
    let helloSHA256 = try! Checksum(hex: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")

    @Test func putThenGetReturnsTheSameBytes() async throws {
        let store = MemoryBufferStore()
        let checksum = try await store.put(Array("hello".utf8), expected: nil)
        #expect(checksum == helloSHA256)
        #expect(try await store.get(checksum) == Array("hello".utf8))
        #expect(try await store.length(checksum) == 5)
        #expect(await store.count == 1)
    }

    @Test func sha3StoreHashesWithSHA3() async throws {
        let store = MemoryBufferStore(hashAlgorithm: .sha3_256)
        let checksum = try await store.put(Array("hello".utf8), expected: nil)
        // python3 -c "import hashlib; print(hashlib.sha3_256(b'hello').hexdigest())"
        #expect(checksum.hex == "3338be694f50c5f338814986cdf0686453a888b84f424d792af4b9202398f392")
    }

    @Test func mismatchingBufferIsRefusedAndNotStored() async throws {
        let store = MemoryBufferStore()
        await #expect(throws: BufferStoreError.self) {
            try await store.put(Array("hellx".utf8), expected: helloSHA256)
        }
        #expect(await store.count == 0)
        #expect(try await store.get(helloSHA256) == nil)
    }

    @Test func hasAndLengthOfAbsentBuffers() async throws {
        let store = MemoryBufferStore()
        try await store.put(Array("hello".utf8), expected: nil)
        let absent = HashAlgorithm.sha256.checksum(of: Array("absent".utf8))
        #expect(try await store.has([helloSHA256, absent]) == [true, false])
        #expect(try await store.length(absent) == nil)
    }

    @Test func promisedBufferIsReportedAndAwaited() async throws {
        let store = MemoryBufferStore(promiseTimeout: .seconds(30))
        try await store.promise(helloSHA256)
        #expect(try await store.has([helloSHA256]) == [true])
        #expect(try await store.hasNow([helloSHA256]) == [false])
        let reader = Task { try await store.get(helloSHA256) }
        try await Task.sleep(for: .milliseconds(100))
        try await store.put(Array("hello".utf8), expected: helloSHA256)
        #expect(try await reader.value == Array("hello".utf8))
    }

    @Test func promiseThatIsNotKeptTimesOut() async throws {
        let store = MemoryBufferStore(promiseTimeout: .milliseconds(200))
        try await store.promise(helloSHA256)
        let started = ContinuousClock.now
        do {
            _ = try await store.get(helloSHA256)
            Issue.record("get of a broken promise should throw promiseTimedOut")
        } catch BufferStoreError.promiseTimedOut(let checksum, let seconds) {
            #expect(checksum == helloSHA256)
            #expect(seconds == 0.2)
        }
        #expect(ContinuousClock.now - started >= .milliseconds(150))
        #expect(try await store.has([helloSHA256]) == [false])
    }

    @Test func materializeWritesTheFile() async throws {
        try await withTemporaryDirectory { directory in
            let store = MemoryBufferStore()
            let checksum = try await store.put(Array("hello".utf8), expected: nil)
            let target = directory + "/pin"
            try await store.materialize(checksum, to: target)
            #expect(FileManager.default.contents(atPath: target) == Data("hello".utf8))
            await #expect(throws: BufferStoreError.self) {
                try await store.materialize(HashAlgorithm.sha256.checksum(of: [1]), to: directory + "/other")
            }
        }
    }
}

@Suite struct PromiseRegistryTests {
    @Test func cancelledReaderIsReleasedAtOnce() async throws {
        let registry = PromiseRegistry(timeToLive: .seconds(60))
        let checksum = HashAlgorithm.sha256.checksum(of: Array("x".utf8))
        await registry.add(checksum)
        let reader = Task { await registry.waitForArrival(of: checksum) }
        try await Task.sleep(for: .milliseconds(50))
        // Released by the cancel, not by the 60 s time to live: the promise is still there.
        reader.cancel()
        #expect(await reader.value == .notPromised)
        #expect(await registry.isPromised(checksum))
        await registry.resolve(checksum)
        #expect(await !registry.isPromised(checksum))
    }
}
