import ShunterCore

extension BufferStore {
    public func hasNow(_ checksums: [Checksum]) async throws -> [Bool] {
        try await has(checksums)
    }

    @discardableResult
    public func put<Chunks: AsyncSequence>(streaming chunks: Chunks, expected: Checksum) async throws -> Checksum
    where Chunks.Element == [UInt8] {
        var buffer: [UInt8] = []
        for try await chunk in chunks { buffer.append(contentsOf: chunk) }
        return try await put(buffer, expected: expected)
    }
}
