import Foundation
import Logging
import ShunterCore

#if canImport(Glibc)
    import Glibc
#endif

/// Buffers on local disk, in the layout the Python hashserver reads and writes.
///
/// "prefix" layout (the default, marked by a `.HASHSERVER_PREFIX` file in the directory):
/// `DIR/<cs[:2]>/<cs>`; "flat" layout: `DIR/<cs>`. Reads look in both places, so a directory
/// written by either layout (or by a Seamless client in directory mode) is readable.
///
/// The actor only keeps the bookkeeping (uploads in flight, promises); hashing and disk I/O
/// run outside it in chunks with `Task.yield()` between them, so a 256 MB upload neither holds
/// up requests for other buffers nor monopolises a cooperative thread.
package actor FileBufferStore: FileBackedBufferStore {
    package enum Layout: String, Sendable, CaseIterable {
        case prefix
        case flat
    }

    /// The name of the marker file by which hashserver recognises the prefix layout.
    package static let prefixMarker = ".HASHSERVER_PREFIX"

    package nonisolated let directory: String
    package nonisolated let layout: Layout
    package nonisolated let hashAlgorithm: HashAlgorithm
    package nonisolated let promises: PromiseRegistry
    /// Re-hash a file on every read, as hashserver does, so a corrupted file is reported
    /// instead of served (a streamed read is cut short before its last chunk; see
    /// `StoredBufferFile`).
    package nonisolated let verifiesReads: Bool
    private nonisolated let logger: Logger
    /// Small buffers read or written lately, answered without the file.
    nonisolated let recent = SmallBufferCache()

    /// Checksums being written right now, with the readers waiting for the write to finish.
    private var uploadsInFlight: [Checksum: [CheckedContinuation<Void, Never>]] = [:]

    static let ioChunkSize = 4 << 20

    /// Opens (creating if needed) a store in `directory`.
    ///
    /// - Parameter layout: nil detects it: prefix when the marker file exists, flat when the
    ///   directory already holds buffers at its top level, prefix (with a new marker) otherwise.
    package init(
        directory: String,
        layout: Layout? = nil,
        hashAlgorithm: HashAlgorithm = .sha256,
        promiseTimeout: Duration = .seconds(600),
        verifiesReads: Bool = true,
        logger: Logger = Logger(label: "shunter.store.files")
    ) throws {
        let directory = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw BufferStoreError.io(path: directory, operation: "create buffer directory", errno: EACCES)
        }
        guard FileSystem.isDirectory(directory) else {
            throw BufferStoreError.io(path: directory, operation: "use as buffer directory", errno: ENOTDIR)
        }
        let resolved = layout ?? Self.detectLayout(of: directory)
        if resolved == .prefix {
            let marker = directory + "/" + Self.prefixMarker
            if !FileSystem.exists(marker) {
                try FileSystem.writeAtomically(Array("1\n".utf8), to: marker)
            }
        }
        self.directory = directory
        self.layout = resolved
        self.hashAlgorithm = hashAlgorithm
        self.promises = PromiseRegistry(timeToLive: promiseTimeout)
        self.verifiesReads = verifiesReads
        self.logger = logger
    }

    static func detectLayout(of directory: String) -> Layout {
        if FileSystem.exists(directory + "/" + prefixMarker) { return .prefix }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let holdsFlatBuffers = names.contains { name in
            (try? Checksum(hex: name)) != nil && FileSystem.fileSize(directory + "/" + name) != nil
        }
        return holdsFlatBuffers ? .flat : .prefix
    }

    // MARK: - Paths

    /// Where a buffer is written.
    package nonisolated func path(for checksum: Checksum) -> String {
        switch layout {
        case .prefix: "\(directory)/\(checksum.prefix(2))/\(checksum.hex)"
        case .flat: "\(directory)/\(checksum.hex)"
        }
    }

    /// Where a buffer may be found: the store's own layout first, then the other one.
    nonisolated func candidatePaths(for checksum: Checksum) -> [String] {
        let prefixed = "\(directory)/\(checksum.prefix(2))/\(checksum.hex)"
        let flat = "\(directory)/\(checksum.hex)"
        return layout == .prefix ? [prefixed, flat] : [flat, prefixed]
    }

    /// The existing uncompressed file holding the buffer, if any.
    package nonisolated func existingPath(for checksum: Checksum) -> String? {
        candidatePaths(for: checksum).first { FileSystem.fileSize($0) != nil }
    }

    /// A compressed copy (hashserver stores `Content-Encoding` uploads as `.zst`/`.gz`).
    nonisolated func compressedPath(for checksum: Checksum) -> String? {
        for base in candidatePaths(for: checksum) {
            for suffix in [".zst", ".gz"] where FileSystem.fileSize(base + suffix) != nil {
                return base + suffix
            }
        }
        return nil
    }

    // MARK: - BufferStore

    package nonisolated func get(_ checksum: Checksum) async throws -> [UInt8]? {
        if let buffer = recent.buffer(for: checksum) { return buffer }
        guard let buffer = try await open(checksum)?.bytes() else { return nil }
        // Verified as it was read when `verifiesReads`; otherwise the file is trusted anyway.
        recent.keep(buffer, for: checksum)
        return buffer
    }

    /// The buffer's file opened for reading in chunks (`StoredBufferFile`), or nil when the
    /// store does not have it. Waits as `get` does: for an upload of the same checksum in
    /// flight, and for a promised buffer up to the promise timeout.
    package nonisolated func open(_ checksum: Checksum) async throws -> StoredBufferFile? {
        while true {
            await waitForUpload(of: checksum)
            if let file = try openExisting(checksum) { return file }
            switch await promises.waitForArrival(of: checksum) {
            case .arrived:
                continue
            case .notPromised:
                await waitForUpload(of: checksum)
                return try openExisting(checksum)
            case .expired:
                if let file = try openExisting(checksum) { return file }
                throw BufferStoreError.promiseTimedOut(checksum, seconds: promises.timeToLive.inSeconds)
            }
        }
    }

    @discardableResult
    package nonisolated func put(_ buffer: [UInt8], expected: Checksum?) async throws -> Checksum {
        let checksum = await Self.hash(buffer, with: hashAlgorithm)
        if let expected, expected != checksum {
            throw BufferStoreError.checksumMismatch(expected: expected, actual: checksum)
        }
        try await store(checksum) { fd, tempPath in
            var offset = 0
            while offset < buffer.count {
                let end = min(offset + Self.ioChunkSize, buffer.count)
                try buffer[offset..<end].withUnsafeBytes { try FileSystem.writeAll(fd, $0, path: tempPath) }
                offset = end
                await Task.yield()
            }
            return checksum
        }
        recent.keep(buffer, for: checksum)
        return checksum
    }

    /// Stores a buffer that arrives in chunks (an HTTP upload), hashing while writing, so the
    /// whole buffer is never in memory. Nothing is kept when it does not hash to `expected`.
    @discardableResult
    package nonisolated func put<Chunks: AsyncSequence>(
        streaming chunks: Chunks, expected: Checksum
    ) async throws -> Checksum where Chunks.Element == [UInt8] {
        try await store(expected) { fd, tempPath in
            var hasher = hashAlgorithm.makeHasher()
            for try await chunk in chunks {
                chunk.withUnsafeBytes { hasher.update($0) }
                try chunk.withUnsafeBytes { try FileSystem.writeAll(fd, $0, path: tempPath) }
            }
            return hasher.finalize()
        }
        return expected
    }

    /// Copies the file into a temporary file of the store while hashing it, off the event
    /// loops, then renames it into place: a result of any size is never whole in memory.
    @discardableResult
    package nonisolated func put(contentsOf fd: Int32, limit: Int) async throws -> Checksum {
        // Its name is not known before it is hashed: the temporary file waits at the top.
        let (temp, tempPath) = try FileSystem.makeTemporaryFile(
            besides: directory + "/" + String(Self.streamedResultPrefix.dropLast()))
        defer { close(temp) }
        do {
            let algorithm = hashAlgorithm
            let checksum = try await BlockingIO.run {
                try FileSystem.copyHashing(
                    from: fd, sourcePath: "result", to: temp, destinationPath: tempPath, algorithm: algorithm,
                    limit: limit)
            }
            var committed = false
            try await claim(checksum) { target in
                try FileSystem.makeDirectory(FileSystem.parentDirectory(of: target))
                try await BlockingIO.run {
                    try FileSystem.commitTemporaryFile(fd: temp, tempPath: tempPath, to: target, mode: 0o444)
                }
                committed = true
            }
            if !committed { unlink(tempPath) }
            return checksum
        } catch {
            unlink(tempPath)
            throw error
        }
    }

    package nonisolated func has(_ checksums: [Checksum]) async throws -> [Bool] {
        let present = try await hasNow(checksums)
        let promised = await promises.arePromised(checksums)
        return zip(present, promised).map { $0 || $1 }
    }

    /// Like `has`, but a promise does not count (hashserver's `/has-now`). An upload in
    /// progress does count, as in hashserver.
    package nonisolated func hasNow(_ checksums: [Checksum]) async throws -> [Bool] {
        let uploading = await checksumsBeingUploaded(among: checksums)
        let answer = { @Sendable [self] in
            checksums.map { checksum in
                uploading.contains(checksum) || existingPath(for: checksum) != nil
                    || compressedPath(for: checksum) != nil
            }
        }
        // A few stats per checksum: a long list is looked up off the event loops.
        return checksums.count <= 64 ? answer() : try await BlockingIO.run(answer)
    }

    package nonisolated func length(_ checksum: Checksum) async throws -> Int? {
        await waitForUpload(of: checksum)
        if let path = existingPath(for: checksum) { return FileSystem.fileSize(path) }
        // hashserver writes the decompressed length of a compressed upload beside it.
        for base in candidatePaths(for: checksum) {
            if let text = try? String(contentsOfFile: base + ".BUFFERLENGTH", encoding: .utf8),
                let length = Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                return length
            }
        }
        return nil
    }

    package nonisolated func promise(_ checksum: Checksum) async throws {
        await promises.add(checksum)
    }

    /// Copies the file through the kernel; the store's copy was verified when it was written.
    package nonisolated func materialize(_ checksum: Checksum, to destination: String) async throws {
        await waitForUpload(of: checksum)
        var source = existingPath(for: checksum)
        if source == nil {
            guard try await get(checksum) != nil else { throw BufferStoreError.notFound(checksum) }
            source = existingPath(for: checksum)
        }
        guard let source else { throw BufferStoreError.notFound(checksum) }
        // A materialized copy is a job's input, made anew if the job runs again: no fsync.
        try FileSystem.copyAtomically(from: source, to: destination, durable: false)
    }

    // MARK: - Reading

    /// The uncompressed file holding the buffer, opened (checked against its name as it is
    /// read when `verifiesReads`), or nil when there is none.
    nonisolated func openExisting(_ checksum: Checksum) throws -> StoredBufferFile? {
        for path in candidatePaths(for: checksum) {
            if let file = try StoredBufferFile(
                checksum: checksum, path: path, algorithm: hashAlgorithm, verifies: verifiesReads, logger: logger)
            {
                return file
            }
        }
        if let compressed = compressedPath(for: checksum) {
            throw StoredBufferError.compressedOnly(path: compressed)
        }
        return nil
    }

    /// Hashes in chunks, yielding between them so other tasks get the thread.
    static func hash(_ buffer: [UInt8], with algorithm: HashAlgorithm) async -> Checksum {
        if buffer.count <= ioChunkSize { return algorithm.checksum(of: buffer) }
        var hasher = algorithm.makeHasher()
        var offset = 0
        while offset < buffer.count {
            let end = min(offset + ioChunkSize, buffer.count)
            // A raw pointer chunk: slices of [UInt8] go through slow generic paths.
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[offset..<end])) }
            offset = end
            await Task.yield()
        }
        return hasher.finalize()
    }

    // MARK: - Writing

    /// Writes a buffer through a temporary file in the target directory. `write` fills the
    /// file and returns the checksum of what it wrote; only a match is renamed into place.
    private nonisolated func store(
        _ checksum: Checksum,
        write: (Int32, String) async throws -> Checksum
    ) async throws {
        try await claim(checksum) { target in
            try FileSystem.makeDirectory(FileSystem.parentDirectory(of: target))
            let (fd, tempPath) = try FileSystem.makeTemporaryFile(besides: target)
            defer { close(fd) }
            do {
                let actual = try await write(fd, tempPath)
                guard actual == checksum else {
                    throw BufferStoreError.checksumMismatch(expected: checksum, actual: actual)
                }
                // The fsync of a large buffer must not stall an event loop; a small one's is
                // quicker than the hop to another thread and back, which every upload would
                // otherwise pay (and which keeps each PUT in flight that much longer).
                var status = stat()
                if fstat(fd, &status) == 0, status.st_size <= Self.inlineCommitBytes {
                    try FileSystem.commitTemporaryFile(fd: fd, tempPath: tempPath, to: target, mode: 0o444)
                } else {
                    try await BlockingIO.run {
                        try FileSystem.commitTemporaryFile(fd: fd, tempPath: tempPath, to: target, mode: 0o444)
                    }
                }
            } catch {
                unlink(tempPath)
                throw error
            }
        }
    }

    /// Runs `write` with the buffer's path unless the store has it already. Concurrent stores
    /// of one checksum run one at a time; the later ones find the file and write nothing.
    private nonisolated func claim(_ checksum: Checksum, write: (String) async throws -> Void) async throws {
        let target = path(for: checksum)
        if existingPath(for: checksum) != nil {
            await promises.resolve(checksum)
            return
        }
        await beginUpload(of: checksum)
        do {
            if existingPath(for: checksum) == nil {
                try await write(target)
                logger.debug("stored buffer", metadata: ["checksum": "\(checksum)", "path": "\(target)"])
            }
        } catch {
            await endUpload(of: checksum)
            throw error
        }
        await endUpload(of: checksum)
        await promises.resolve(checksum)
    }

    /// Waits while another task writes the same checksum, then claims it.
    // MARK: - Interrupted writes

    /// Removes the temporary files of stores that never finished (`<checksum>-XXXXXX` beside
    /// where the buffer would go: a killed process leaves them, and each may be as large as
    /// the buffer) and returns how many files and bytes went. Only files no store of this
    /// process is writing: the caller makes sure no other process writes here (the broker
    /// holds the store's lock, `BrokerLock`). At start that is every such file; later, a file
    /// whose checksum is being stored right now is left alone, decided on the actor, where
    /// no store can begin between the check and the removal. `atStart` also removes the
    /// `incoming-XXXXXX` files of results streamed in from a job (`put(contentsOf:limit:)`):
    /// their checksum is not known while they are written, so only a start, when nothing is
    /// being written, can tell that one was interrupted.
    @discardableResult
    package nonisolated func removeInterruptedWrites(atStart: Bool = false) async -> (files: Int, bytes: Int64) {
        // Listed outside the actor: a large store's listing must not hold up its stores.
        var directories = [directory]
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) {
            for entry in entries where entry.utf8.count == 2 && FileSystem.isDirectory(directory + "/" + entry) {
                directories.append(directory + "/" + entry)
            }
        }
        var candidates: [String] = []
        for parent in directories {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []
            where FileSystem.isTemporaryBufferName(name)
                || (atStart && parent == directory && Self.isStreamedResultTemporaryName(name))
            {
                candidates.append(parent + "/" + name)
            }
        }
        guard !candidates.isEmpty else { return (0, 0) }
        let (removed, bytes) = await removeUnlessInFlight(candidates)
        if removed > 0 {
            logger.notice(
                "removed the temporary files of interrupted buffer writes",
                metadata: ["files": "\(removed)", "bytes": "\(bytes)", "directory": "\(directory)"])
        }
        return (removed, bytes)
    }

    /// Buffers up to this size are committed (fsync, rename) on the caller's thread.
    static let inlineCommitBytes = 1 << 20

    /// `incoming-XXXXXX`: the temporary file of a result streamed into the store.
    static func isStreamedResultTemporaryName(_ name: String) -> Bool {
        name.hasPrefix(streamedResultPrefix) && name.utf8.count == streamedResultPrefix.utf8.count + 6
    }

    static let streamedResultPrefix = "incoming-"

    private func removeUnlessInFlight(_ paths: [String]) -> (Int, Int64) {
        var removed = 0
        var bytes: Int64 = 0
        for path in paths {
            let name = path.split(separator: "/").last.map(String.init) ?? ""
            if let checksum = try? Checksum(hex: String(name.prefix(64))), uploadsInFlight[checksum] != nil { continue }
            var status = stat()
            guard lstat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG, unlink(path) == 0 else { continue }
            removed += 1
            bytes += Int64(status.st_size)
        }
        return (removed, bytes)
    }

    private func beginUpload(of checksum: Checksum) async {
        while uploadsInFlight[checksum] != nil {
            await withCheckedContinuation { uploadsInFlight[checksum]!.append($0) }
        }
        uploadsInFlight[checksum] = []
    }

    private func endUpload(of checksum: Checksum) {
        for waiter in uploadsInFlight.removeValue(forKey: checksum) ?? [] { waiter.resume() }
    }

    private func waitForUpload(of checksum: Checksum) async {
        while uploadsInFlight[checksum] != nil {
            await withCheckedContinuation { uploadsInFlight[checksum]!.append($0) }
        }
    }

    private func checksumsBeingUploaded(among checksums: [Checksum]) -> Set<Checksum> {
        Set(checksums.filter { uploadsInFlight[$0] != nil })
    }
}
