import ShunterCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension BufferStore {
    package func hasNow(_ checksums: [Checksum]) async throws -> [Bool] {
        try await has(checksums)
    }

    @discardableResult
    package func put<Chunks: AsyncSequence>(streaming chunks: Chunks, expected: Checksum) async throws -> Checksum
    where Chunks.Element == [UInt8] {
        var buffer: [UInt8] = []
        for try await chunk in chunks { buffer.append(contentsOf: chunk) }
        return try await put(buffer, expected: expected)
    }

    @discardableResult
    package func put(contentsOf fd: Int32, limit: Int) async throws -> Checksum {
        let buffer = try await BlockingIO.run { try FileSystem.readToEnd(fd, limit: limit, path: "result") }
        return try await put(buffer, expected: nil)
    }
}
