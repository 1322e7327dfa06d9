import Foundation
import ShunterCore

/// Buffers kept in memory: for ephemeral brokers and for tests of code that needs a store.
///
/// Hashing happens outside the actor (in `put`, which is nonisolated), so a large upload does
/// not hold up readers of other buffers.
package actor MemoryBufferStore: BufferStore {
    package nonisolated let hashAlgorithm: HashAlgorithm
    package nonisolated let promises: PromiseRegistry
    private var buffers: [Checksum: [UInt8]] = [:]

    package init(hashAlgorithm: HashAlgorithm = .sha256, promiseTimeout: Duration = .seconds(600)) {
        self.hashAlgorithm = hashAlgorithm
        self.promises = PromiseRegistry(timeToLive: promiseTimeout)
    }

    /// How many buffers are stored.
    package var count: Int { buffers.count }

    /// Every stored checksum, sorted.
    package var checksums: [Checksum] { buffers.keys.sorted() }

    package func get(_ checksum: Checksum) async throws -> [UInt8]? {
        while true {
            if let buffer = buffers[checksum] { return buffer }
            switch await promises.waitForArrival(of: checksum) {
            case .arrived: continue
            case .notPromised: return buffers[checksum]
            case .expired:
                if let buffer = buffers[checksum] { return buffer }
                throw BufferStoreError.promiseTimedOut(checksum, seconds: promises.timeToLive.inSeconds)
            }
        }
    }

    @discardableResult
    package nonisolated func put(_ buffer: [UInt8], expected: Checksum?) async throws -> Checksum {
        let checksum = hashAlgorithm.checksum(of: buffer)
        if let expected, expected != checksum {
            throw BufferStoreError.checksumMismatch(expected: expected, actual: checksum)
        }
        await insert(buffer, as: checksum)
        return checksum
    }

    private func insert(_ buffer: [UInt8], as checksum: Checksum) async {
        if buffers[checksum] == nil { buffers[checksum] = buffer }
        await promises.resolve(checksum)
    }

    package func has(_ checksums: [Checksum]) async throws -> [Bool] {
        var answers: [Bool] = []
        for checksum in checksums {
            let present = buffers[checksum] != nil
            answers.append(present ? true : await promises.isPromised(checksum))
        }
        return answers
    }

    /// Like `has`, but a promise does not count (hashserver's `/has-now`).
    package func hasNow(_ checksums: [Checksum]) async throws -> [Bool] {
        checksums.map { buffers[$0] != nil }
    }

    package func length(_ checksum: Checksum) async throws -> Int? {
        buffers[checksum]?.count
    }

    package func promise(_ checksum: Checksum) async throws {
        await promises.add(checksum)
    }

    package func materialize(_ checksum: Checksum, to path: String) async throws {
        guard let buffer = try await get(checksum) else { throw BufferStoreError.notFound(checksum) }
        try FileSystem.writeAtomically(buffer, to: path)
    }
}
