import Foundation
import ShunterCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Thin POSIX helpers for the file store: errors carry the path and the operation, and
/// writes are atomic (temp file in the target directory, fsync, rename, fsync directory), so a
/// reader never sees half a buffer even if the process dies mid-write.
package enum FileSystem {
    static let chunkSize = 1 << 20

    static func failure(_ path: String, _ operation: String) -> BufferStoreError {
        .io(path: path, operation: operation, errno: errno)
    }

    /// Size of a regular file, or nil when there is none.
    static func fileSize(_ path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int(info.st_size)
    }

    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    static func makeDirectory(_ path: String, mode: mode_t = 0o775) throws {
        if mkdir(path, mode) != 0 && errno != EEXIST { throw failure(path, "mkdir") }
    }

    static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let parent = String(path[..<slash])
        return parent.isEmpty ? "/" : parent
    }

    /// The process's umask, read once (from /proc, which reads it without changing it: the
    /// umask(2) round trip would leave it 0 for a moment to every other thread).
    static let creationMask: mode_t = {
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Umask:") }),
            let mask = mode_t(line.dropFirst("Umask:".count).trimmingCharacters(in: .whitespaces), radix: 8)
        {
            return mask
        }
        let mask = umask(0o022)
        umask(mask)
        return mask
    }()

    /// Whether `name` is a temporary file of an interrupted store: `<64 hex>-XXXXXX`.
    static func isTemporaryBufferName(_ name: String) -> Bool {
        let utf8 = Array(name.utf8)
        guard utf8.count == 64 + 7, utf8[64] == UInt8(ascii: "-") else { return false }
        return utf8[..<64].allSatisfy {
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0)
        }
    }

    /// Opens a fresh temporary file next to `path` (same directory, so rename is atomic).
    static func makeTemporaryFile(besides path: String) throws -> (fd: Int32, path: String) {
        var template = Array((path + "-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw failure(path + "-XXXXXX", "create temporary file") }
        // Child processes (job backends) must not inherit a half-written buffer.
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        let tempPath = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return (fd, tempPath)
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var done = 0
        while done < bytes.count {
            let wrote = write(fd, bytes.baseAddress! + done, min(bytes.count - done, chunkSize))
            if wrote < 0 {
                if errno == EINTR { continue }
                throw failure(path, "write")
            }
            done += wrote
        }
    }

    /// Makes the rename itself durable; failures are ignored since not every filesystem
    /// lets a directory be fsynced, and the data is already safe.
    static func syncDirectory(_ directory: String) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    /// Moves a finished temporary file into place (fsync, chmod, rename, fsync directory).
    /// The caller still owns (and closes) `fd`. `durable: false` skips both fsyncs, for files
    /// nobody needs after a crash (a job's work directory is made anew when the job re-runs).
    static func commitTemporaryFile(fd: Int32, tempPath: String, to path: String, mode: mode_t, durable: Bool = true)
        throws
    {
        if durable { guard fsync(fd) == 0 else { throw failure(tempPath, "fsync") } }
        // An explicit mode is not masked by the kernel: the process's umask is applied here,
        // so a broker made owner-only (it sets umask 077) writes owner-only buffers.
        _ = fchmod(fd, mode & ~creationMask)
        guard rename(tempPath, path) == 0 else { throw failure(path, "rename into") }
        if durable { syncDirectory(parentDirectory(of: path)) }
    }

    /// `bytes` at `path`, replacing what was there in one rename: readers see the old file or
    /// the new one, and a failed write leaves no temporary file behind.
    package static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws {
        let (fd, tempPath) = try makeTemporaryFile(besides: path)
        defer { close(fd) }
        do {
            try bytes.withUnsafeBytes { try writeAll(fd, $0, path: tempPath) }
            try commitTemporaryFile(fd: fd, tempPath: tempPath, to: path, mode: mode)
        } catch {
            unlink(tempPath)
            throw error
        }
    }

    /// Copies `source` to `destination` through the kernel (sendfile where it works,
    /// chunked read/write otherwise), never holding the whole file in memory.
    static func copyAtomically(from source: String, to destination: String, mode: mode_t = 0o644, durable: Bool = true)
        throws
    {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw failure(source, "open") }
        defer { close(input) }
        let (output, tempPath) = try makeTemporaryFile(besides: destination)
        defer { close(output) }
        do {
            try copyContents(from: input, sourcePath: source, to: output, destinationPath: tempPath)
            try commitTemporaryFile(fd: output, tempPath: tempPath, to: destination, mode: mode, durable: durable)
        } catch {
            unlink(tempPath)
            throw error
        }
    }

    private static func copyContents(from input: Int32, sourcePath: String, to output: Int32, destinationPath: String)
        throws
    {
        #if os(Linux)
            while true {
                let copied = sendfile(output, input, nil, 1 << 30)
                if copied > 0 { continue }
                if copied == 0 { return }
                if errno == EINTR { continue }
                if errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP { break }
                throw failure(sourcePath, "sendfile to \(destinationPath) from")
            }
        // Fall back to plain copying from wherever sendfile stopped.
        #endif
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        while true {
            let got = chunk.withUnsafeMutableBytes { Glibc.read(input, $0.baseAddress!, chunkSize) }
            if got < 0 {
                if errno == EINTR { continue }
                throw failure(sourcePath, "read")
            }
            if got == 0 { return }
            try chunk.withUnsafeBytes {
                try writeAll(output, UnsafeRawBufferPointer(rebasing: $0[0..<got]), path: destinationPath)
            }
        }
    }

    /// Reads `fd` from its offset to its end, refusing more than `limit` bytes.
    static func readToEnd(_ fd: Int32, limit: Int, path: String) throws -> [UInt8] {
        var out: [UInt8] = []
        try forEachChunk(of: fd, limit: limit, path: path) { out.append(contentsOf: $0) }
        return out
    }

    /// Copies `input` from its offset to its end into `output`, hashing as it goes; refuses
    /// more than `limit` bytes. Returns the checksum of what was copied.
    static func copyHashing(
        from input: Int32, sourcePath: String, to output: Int32, destinationPath: String, algorithm: HashAlgorithm,
        limit: Int
    ) throws -> Checksum {
        var hasher = algorithm.makeHasher()
        try forEachChunk(of: input, limit: limit, path: sourcePath) { chunk in
            hasher.update(chunk)
            try writeAll(output, chunk, path: destinationPath)
        }
        return hasher.finalize()
    }

    /// Reads `fd` chunk by chunk, counting, so a file that grows past `limit` while it is read
    /// is refused too.
    private static func forEachChunk(
        of fd: Int32, limit: Int, path: String, _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        var total = 0
        while true {
            let got = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, chunkSize) }
            if got < 0 {
                if errno == EINTR { continue }
                throw failure(path, "read")
            }
            if got == 0 { return }
            total += got
            guard total <= limit else { throw BufferStoreError.tooLarge(limit: limit) }
            try chunk.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
        }
    }
}
