import Foundation
import ShunterCore

/// One job's directory under the broker's work root, named so a human can find it:
/// `<first 12 hex of the transformation checksum>-<job id>`.
///
/// ```
/// <root>/3f9a0c1d2e4b-42/
///     work/           the command's working directory: one file per pin, transform.sh, RESULT
///     stdout          the command's standard output
///     stderr          the command's standard error
///     .kept           present once the broker decided to keep the directory after a failure
///     exit-status     "<job id> <exit code>", written by the job's command as it ends (local jobs)
/// ```
/// Output goes beside `work/`, not into it, so that the job sees exactly the files Seamless
/// would give it (a `ls > RESULT` gives the same answer).
///
/// After success the broker empties the directory and keeps it for a later job
/// (`WorkDirectoryRecycling`); after failure it marks it kept, and `WorkDirectoryJanitor`
/// removes kept ones once they are old enough.
package struct WorkDirectory: Sendable, Hashable {
    /// The job's directory (removed as a whole).
    package let path: String
    /// The earlier job's files in `work/`, when this directory was taken with them in place.
    let leftovers: WorkDirectoryLeftovers?

    package var workPath: String { path + "/work" }
    package var stdoutPath: String { path + "/stdout" }
    package var stderrPath: String { path + "/stderr" }
    var keptMarkerPath: String { path + "/" + WorkDirectory.keptMarkerName }
    /// Where the command of a job that records its exit status leaves it (`JobContext.recordsExitStatus`).
    package var exitStatusPath: String { path + "/exit-status" }

    /// The exit code that job `jobID`'s command recorded as it ended; nil when it did not end
    /// (or was killed by a signal, or the line is not whole, or is another job's: a recycled
    /// directory keeps the marker of the job before).
    package func recordedExitStatus(jobID: String) -> Int32? {
        // The job could have replaced the file (it is beside its `work/`): never follow a
        // link, read a regular file only, and a few bytes at most.
        let descriptor = open(exitStatusPath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else { return nil }
        var buffer = [UInt8](repeating: 0, count: 128)
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0, count < buffer.count, buffer[count - 1] == UInt8(ascii: "\n") else { return nil }
        let fields = String(decoding: buffer[..<(count - 1)], as: UTF8.self).split(
            separator: " ", omittingEmptySubsequences: false)
        guard fields.count == 2, fields[0] == jobID, let code = Int32(fields[1]), (0...255).contains(code) else {
            return nil
        }
        return code
    }

    static let keptMarkerName = ".kept"

    package init(path: String) {
        self.init(path: path, leftovers: nil)
    }

    init(path: String, leftovers: WorkDirectoryLeftovers?) {
        self.path = path
        self.leftovers = leftovers
    }

    package static func == (lhs: WorkDirectory, rhs: WorkDirectory) -> Bool { lhs.path == rhs.path }

    package func hash(into hasher: inout Hasher) { hasher.combine(path) }

    /// The directory name for a job: `<tf checksum prefix 12>-<job id>`, with characters that
    /// do not belong in a file name replaced by `_`.
    package static func name(transformation: Checksum, jobID: String) -> String {
        // Byte by byte: Character's Unicode properties cost more than the rest of the name
        // (every job asks). A non-ASCII letter becomes `_` too, one per UTF-8 byte.
        let safeID = String(
            decoding: jobID.utf8.map { byte -> UInt8 in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
                    byte
                default:
                    UInt8(ascii: "_")
                }
            }, as: UTF8.self)
        return transformation.prefix(12) + "-" + safeID
    }

    /// The job id a directory's name carries (what `name(transformation:jobID:)` made it
    /// from), or nil for a name that is not a job directory's.
    package static func jobID(inName name: String) -> String? {
        let utf8 = Array(name.utf8)
        guard utf8.count > 13, utf8[12] == UInt8(ascii: "-"),
            utf8[..<12].allSatisfy({
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                    || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0)
            })
        else { return nil }
        return String(decoding: utf8[13...], as: UTF8.self)
    }

    /// Creates `<root>/<name>/work/`. Fails if the job directory already exists: two jobs
    /// must never share one, and a leftover from a crashed broker is not ours to reuse.
    ///
    /// `reusingFiles`: the directory may be a spare with the earlier job's files still in
    /// `work/`; the caller writes its files with `write(_:to:mode:)`, moves any other leftover
    /// out of a path it materializes otherwise (`evictLeftover(at:)`), and calls
    /// `evictLeftovers()` before the job runs. Without it `work/` is empty.
    package static func create(
        root: String, transformation: Checksum, jobID: String, reusingFiles: Bool = false
    ) throws -> WorkDirectory {
        let directory = WorkDirectory(path: root + "/" + name(transformation: transformation, jobID: jobID))
        let manager = FileManager.default
        if manager.fileExists(atPath: directory.path) {
            throw JobFailure(.internalError, "cannot create the work directory \(directory.path): it exists already")
        }
        if let spare = takeSpare(root: root, as: directory, reusingFiles: reusingFiles) { return spare }
        do {
            try manager.createDirectory(atPath: root, withIntermediateDirectories: true)
            try manager.createDirectory(atPath: directory.path, withIntermediateDirectories: false)
            try manager.createDirectory(atPath: directory.workPath, withIntermediateDirectories: false)
        } catch {
            throw JobFailure(
                .internalError, "cannot create the work directory \(directory.workPath): \(error.localizedDescription)")
        }
        return directory
    }

    /// Writes a file of the job's directory: created (or truncated) and written in place.
    ///
    /// Not `FileManager.createFile` or `Data.write(options: .atomic)`: those write a temporary
    /// file, fsync it and rename it, three file-system operations and a disk flush per file,
    /// a large share of a trivial job's CPU in a profile (docs/performance.md). A work directory is
    /// scratch — after a crash the job runs again in a fresh one — so neither atomicity nor
    /// durability buys anything here.
    static func writeFile(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard descriptor >= 0 else {
            throw JobFailure(.internalError, "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        try writeAll(bytes, to: descriptor, path: path)
        // The mode asked for, whatever the umask (transform.sh must be executable).
        if mode != 0o644 { fchmod(descriptor, mode) }
    }

    static func writeAll(_ bytes: [UInt8], to descriptor: Int32, path: String) throws {
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes {
                Foundation.write(descriptor, $0.baseAddress! + written, bytes.count - written)
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw JobFailure(.internalError, "cannot write \(path): \(String(cString: strerror(errno)))")
            }
            written += count
        }
    }

    /// Removes the whole job directory; a directory already gone is not an error.
    package func remove() throws {
        let manager = FileManager.default
        guard manager.fileExists(atPath: path) else { return }
        try manager.removeItem(atPath: path)
    }

    /// Records that the directory is kept after a failure (for `WorkDirectoryJanitor`): the
    /// marker's modification time is when it was kept, its text says why.
    package func markKept(reason: String) throws {
        let text = "kept after failure at \(Date())\n\(reason)\n"
        try Data(text.utf8).write(to: URL(fileURLWithPath: keptMarkerPath))
    }

    /// When the directory was marked kept, nil if it never was.
    package var keptSince: Date? {
        (try? FileManager.default.attributesOfItem(atPath: keptMarkerPath))?[.modificationDate] as? Date
    }
}
