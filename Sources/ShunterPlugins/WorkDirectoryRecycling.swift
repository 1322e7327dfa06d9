import Foundation
import ShunterCore

/// Successful jobs' directories and files, kept for the next jobs instead of removed.
///
/// Why: on ext4 without a journal (this project's VM disks), allocating an inode walks every
/// inode freed in the last minute, and freeing a file's block on a `discard` mount is a
/// synchronous discard request to the disk. At a few hundred jobs a second, making and
/// removing each job's directory, `work/`, output files, pin files and `transform.sh` was most
/// of the broker's CPU (docs/performance.md). So:
///
/// - an emptied job directory (with `work/`, `stdout`, `stderr`) becomes the next job's
///   directory, by one rename;
/// - the files a job left (pins, `transform.sh`, `RESULT`) are moved, untruncated, to a pool
///   of spare files, and the next job's pin files and `transform.sh` are spare files renamed
///   into place and overwritten (`write(_:to:mode:)`): the block each one holds is reused,
///   never freed and allocated again.
///
/// A trivial bash job then allocates one inode (the `RESULT` bash creates) and frees none
/// until the pool of spare files is full (`WorkRootSpares.fileLimit`); the housekeeping trims
/// it. A spare directory whose `work/` is not empty (a process of the earlier job wrote late)
/// is removed instead of handed out; a file with other names (a hard link to a store buffer)
/// is removed, never reused.
extension WorkDirectory {
    /// The work root this directory is in.
    var root: String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Writes one of the job's files (a pin, `transform.sh`) with exactly `bytes` and `mode`:
    /// into a spare file when there is one, else into a new file.
    func write(_ bytes: [UInt8], to target: String, mode: mode_t = 0o644) throws {
        let spares = WorkRootSpares.of(root: root)
        while let spare = spares.takeFile() {
            // Gone means another broker on this root took it: try the next one.
            guard rename(spare, target) == 0 else { continue }
            let descriptor = open(target, O_WRONLY | O_CLOEXEC)
            guard descriptor >= 0 else { break }
            defer { close(descriptor) }
            // Overwritten, then cut to length: shortening within the first block keeps the
            // block, where O_TRUNC would free it and the write allocate it again.
            try Self.writeAll(bytes, to: descriptor, path: target)
            guard ftruncate(descriptor, off_t(bytes.count)) == 0, fchmod(descriptor, mode) == 0 else {
                throw JobFailure(.internalError, "cannot write \(target): \(String(cString: strerror(errno)))")
            }
            return
        }
        try Self.writeFile(bytes, to: target, mode: mode)
    }

    /// Takes a spare directory as `target` (which must not exist); false when there is none.
    static func takeSpare(root: String, as target: WorkDirectory) -> Bool {
        let spares = WorkRootSpares.of(root: root)
        while let spare = spares.takeDirectory() {
            guard rename(spare, target.path) == 0 else { continue }
            if entries(of: target.workPath)?.isEmpty == true { return true }
            try? FileManager.default.removeItem(atPath: target.path)
        }
        return false
    }

    /// Empties a successful job's directory into the pools, or removes it when the pool of
    /// directories is full (or emptying fails).
    public func recycle() {
        let spares = WorkRootSpares.of(root: root)
        do {
            try empty(into: spares)
            if spares.keepDirectory(path) { return }
        } catch {}
        try? remove()
    }

    private func empty(into spares: WorkRootSpares) throws {
        guard let work = Self.entries(of: workPath), let top = Self.entries(of: path) else {
            throw JobFailure(.internalError, "cannot list \(path)")
        }
        for entry in work {
            let file = workPath + "/" + entry.name
            var status = stat()
            // Only a regular file with no other name: reusing a hard link the job made to a
            // file elsewhere (a store buffer) would overwrite that file.
            let reusable = lstat(file, &status) == 0 && (status.st_mode & S_IFMT) == S_IFREG && status.st_nlink == 1
            if !(reusable && spares.keepFile(file)) {
                try Self.removeEntry(file, isDirectory: entry.isDirectory)
            }
        }
        for entry in top where entry.name != "work" {
            let file = path + "/" + entry.name
            guard entry.name == "stdout" || entry.name == "stderr" else {
                try Self.removeEntry(file, isDirectory: entry.isDirectory)
                continue
            }
            var status = stat()
            if lstat(file, &status) == 0, status.st_size > 0, truncate(file, 0) != 0 {
                throw JobFailure(.internalError, "cannot empty \(file)")
            }
        }
    }

    private static func removeEntry(_ path: String, isDirectory: Bool) throws {
        if isDirectory {
            try FileManager.default.removeItem(atPath: path)
        } else if unlink(path) != 0 && errno != ENOENT {
            throw JobFailure(.internalError, "cannot remove \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// A directory's entries (without `.` and `..`), read with one `getdents` in the common
    /// case; nil when it cannot be read.
    static func entries(of directory: String) -> [(name: String, isDirectory: Bool)]? {
        guard let stream = opendir(directory) else { return nil }
        defer { closedir(stream) }
        var entries: [(name: String, isDirectory: Bool)] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name == "." || name == ".." { continue }
            var isDirectory = entry.pointee.d_type == UInt8(DT_DIR)
            if entry.pointee.d_type == UInt8(DT_UNKNOWN) {
                // Some file systems do not say: ask.
                var status = stat()
                isDirectory = lstat(directory + "/" + name, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
            }
            entries.append((name, isDirectory))
        }
        return entries
    }
}
