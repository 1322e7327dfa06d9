import Logging
import NIOCore
import ShunterCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A buffer of a file store, opened for reading: the file is read in chunks straight into
/// `ByteBuffer`s that an HTTP response can send as they are, so a 256 MiB GET never holds the
/// buffer whole in memory and starts sending after the first chunk.
///
/// Integrity: when the store `verifiesReads`, every chunk is hashed as it is read and the last
/// chunk is handed over only once the whole file hashed to its name. A corrupt file therefore
/// never reaches its reader complete: `chunks` throws `StoredBufferError.corrupt` instead of
/// the last chunk, and an HTTP response that already sent its head and `Content-Length` is
/// cut short (the connection is closed), which every client reports as an error. This keeps
/// hashserver's guarantee (a corrupt file is reported, never served as valid) at the cost of
/// the hash, which runs while the previous chunk is on the wire. Verifying before sending
/// anything would need the file read twice; trusting the file without a hash would serve disk
/// corruption silently.
///
/// The descriptor is closed when the last reference goes away.
package final class StoredBufferFile: Sendable {
    /// The chunk size of `chunks` by default: large enough that a syscall and a hash update per
    /// chunk cost nothing, small enough that a response holds little memory.
    package static let defaultChunkSize = 1 << 20

    package let checksum: Checksum
    package let path: String
    /// The file's length when it was opened; the store's files are never changed in place.
    package let size: Int
    let descriptor: Int32
    let algorithm: HashAlgorithm
    let verifies: Bool
    let logger: Logger

    /// Opens `path`, or answers nil when there is no regular file there.
    init?(checksum: Checksum, path: String, algorithm: HashAlgorithm, verifies: Bool, logger: Logger) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw FileSystem.failure(path, "open")
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let error = FileSystem.failure(path, "fstat")
            close(fd)
            throw error
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            return nil
        }
        self.checksum = checksum
        self.path = path
        self.size = Int(info.st_size)
        self.descriptor = fd
        self.algorithm = algorithm
        self.verifies = verifies
        self.logger = logger
    }

    deinit {
        close(descriptor)
    }

    /// Reads the file in order in chunks of at most `chunkSize` bytes and gives each to
    /// `consume`. With verification, chunk n is given only after chunk n+1 was read and hashed,
    /// and the last one only after the whole file matched its checksum; otherwise throws
    /// `StoredBufferError.corrupt` (or `.io`) before handing over the last chunk.
    package func chunks(
        chunkSize: Int = StoredBufferFile.defaultChunkSize,
        allocator: ByteBufferAllocator = ByteBufferAllocator(),
        _ consume: (ByteBuffer) async throws -> Void
    ) async throws {
        var hasher = verifies ? algorithm.makeHasher() : nil
        var pending: ByteBuffer?
        var offset = 0
        while offset < size {
            let wanted = min(chunkSize, size - offset)
            var chunk = allocator.buffer(capacity: wanted)
            try chunk.writeWithUnsafeMutableBytes(minimumWritableBytes: wanted) { raw in
                try readFully(into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<wanted]), at: offset)
            }
            if hasher != nil {
                chunk.withUnsafeReadableBytes { hasher!.update($0) }
            }
            offset += wanted
            if let previous = pending {
                try await consume(previous)
                await Task.yield() // between chunks of a large file, let other tasks run
            }
            pending = chunk
        }
        if let hasher {
            let actual = hasher.finalize()
            guard actual == checksum else {
                logger.error("stored buffer is corrupt", metadata: ["path": "\(path)", "hashes_to": "\(actual)"])
                throw StoredBufferError.corrupt(path: path, expected: checksum, actual: actual)
            }
        }
        if let pending { try await consume(pending) }
    }

    /// The whole buffer, verified as `chunks` does.
    package func bytes() async throws -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(size)
        try await chunks(chunkSize: FileBufferStore.ioChunkSize) { buffer.append(contentsOf: $0.readableBytesView) }
        return buffer
    }

    /// Fills `target` from `offset`; a file shorter than it was when opened is an error.
    private func readFully(into target: UnsafeMutableRawBufferPointer, at offset: Int) throws -> Int {
        var done = 0
        while done < target.count {
            let got = pread(descriptor, target.baseAddress! + done, target.count - done, off_t(offset + done))
            if got < 0 {
                if errno == EINTR { continue }
                throw FileSystem.failure(path, "read")
            }
            if got == 0 {
                throw BufferStoreError.io(path: path, operation: "read (the file shrank while being read)", errno: EIO)
            }
            done += got
        }
        return done
    }
}
