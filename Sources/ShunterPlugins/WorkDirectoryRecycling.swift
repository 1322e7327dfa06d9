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
/// - a job's directory (with `work/`, `stdout`, `stderr`) becomes the next job's directory,
///   by one rename, with the files the job left in `work/` (pins, `transform.sh`) still in it;
/// - a plugin that writes its files in place (`create(reusingFiles: true)`, the bash plugin)
///   overwrites the leftovers of the same names; any other leftover, and `RESULT` (which bash
///   would truncate, freeing its block), goes untruncated to a pool of spare files, and a file
///   that is not a leftover is a spare file renamed into place and overwritten
///   (`write(_:to:mode:)`): the block each one holds is reused, never freed and allocated
///   again.
///
/// A trivial bash job then allocates one inode (the `RESULT` bash creates) and frees none
/// until the pool of spare files is full (`WorkRootSpares.fileLimit`), and renames three
/// times: `RESULT` to the pool, its directory to the spares and back. The housekeeping trims
/// the pool. A spare directory whose `work/` holds anything but the regular files it was
/// kept with (a process of the earlier job wrote late) is removed instead of handed out; a
/// file with other names (a hard link to a store buffer) is removed, never reused.
extension WorkDirectory {
    /// The work root this directory is in.
    var root: String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Writes one of the job's files (a pin, `transform.sh`) with exactly `bytes` and `mode`:
    /// over the earlier job's file of that name when it was left in place, else into a spare
    /// file when there is one, else into a new file.
    func write(_ bytes: [UInt8], to target: String, mode: mode_t = 0o644) throws {
        if let leftovers, let name = nameInWork(target), leftovers.take(name) {
            let descriptor = open(target, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)
            if descriptor >= 0 {
                defer { close(descriptor) }
                return try Self.overwrite(descriptor, with: bytes, mode: mode, path: target)
            }
        }
        let spares = WorkRootSpares.of(root: root)
        while let spare = spares.takeFile() {
            // Gone means another broker on this root took it: try the next one.
            guard rename(spare, target) == 0 else { continue }
            let descriptor = open(target, O_WRONLY | O_CLOEXEC)
            guard descriptor >= 0 else { break }
            defer { close(descriptor) }
            return try Self.overwrite(descriptor, with: bytes, mode: mode, path: target)
        }
        try Self.writeFile(bytes, to: target, mode: mode)
    }

    /// Overwritten, then cut to length: shortening within the first block keeps the block,
    /// where O_TRUNC would free it and the write allocate it again. The cut and the mode
    /// change only when needed (a job's pins usually have the earlier job's size and mode):
    /// each is an inode change, the `fstat` that tells is not.
    private static func overwrite(_ descriptor: Int32, with bytes: [UInt8], mode: mode_t, path: String) throws {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw JobFailure(.internalError, "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        try writeAll(bytes, to: descriptor, path: path)
        guard status.st_size <= off_t(bytes.count) || ftruncate(descriptor, off_t(bytes.count)) == 0,
            status.st_mode & 0o7777 == mode || fchmod(descriptor, mode) == 0
        else {
            throw JobFailure(.internalError, "cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// The name of `path` when it is directly in `work/`.
    private func nameInWork(_ path: String) -> String? {
        let prefix = workPath + "/"
        guard path.hasPrefix(prefix) else { return nil }
        let name = path.dropFirst(prefix.count)
        return name.isEmpty || name.contains("/") ? nil : String(name)
    }

    /// Moves the leftover named by the first component of `relativePath` (relative to
    /// `work/`) out of the way of something that is not written in place there: a hard link,
    /// a directory, a file in a subdirectory.
    func evictLeftover(at relativePath: String) throws {
        guard let leftovers else { return }
        let name = String(relativePath.prefix { $0 != "/" })
        if leftovers.take(name) { try evict(workPath + "/" + name) }
    }

    /// Moves every leftover the job did not write to the pool: called before the job runs.
    func evictLeftovers() throws {
        guard let leftovers else { return }
        for name in leftovers.takeAll() { try evict(workPath + "/" + name) }
    }

    private func evict(_ file: String) throws {
        if WorkRootSpares.of(root: root).keepFile(file) { return }
        try Self.removeEntry(file, isDirectory: false)
    }

    /// Takes a spare directory as `target` (which must not exist); nil when there is none.
    /// Its `work/` holds the files it was kept with: the leftovers of the returned directory
    /// with `reusingFiles`, moved to the pool of spare files without.
    static func takeSpare(root: String, as target: WorkDirectory, reusingFiles: Bool) -> WorkDirectory? {
        let spares = WorkRootSpares.of(root: root)
        while let spare = spares.takeDirectory() {
            guard rename(spare, target.path) == 0 else { continue }
            if let names = keptFiles(in: target.workPath) {
                let taken = WorkDirectory(path: target.path, leftovers: WorkDirectoryLeftovers(names))
                if reusingFiles { return taken }
                if (try? taken.evictLeftovers()) != nil { return target }
            }
            try? FileManager.default.removeItem(atPath: target.path)
        }
        return nil
    }

    /// The names in a spare's `work/` when each is a file `recycle` keeps in place; nil when
    /// anything else is there (a process of the earlier job wrote late) or it cannot be read.
    private static func keptFiles(in work: String) -> [String]? {
        guard let entries = entries(of: work) else { return nil }
        var names: [String] = []
        for entry in entries {
            guard !entry.isDirectory, entry.name != "RESULT", isReusableFile(work + "/" + entry.name) else {
                return nil
            }
            names.append(entry.name)
        }
        return names
    }

    /// Only a regular file with no other name: reusing a hard link the job made to a file
    /// elsewhere (a store buffer) would overwrite that file.
    private static func isReusableFile(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFREG && status.st_nlink == 1
    }

    /// Keeps a successful job's directory for a later job, its `work/` files in place but
    /// `RESULT` in the pool of spare files; removes it when the pool of directories is full
    /// (or emptying fails).
    package func recycle() {
        let spares = WorkRootSpares.of(root: root)
        do {
            try clearForReuse(into: spares)
            if spares.keepDirectory(path) { return }
        } catch {}
        try? remove()
    }

    private func clearForReuse(into spares: WorkRootSpares) throws {
        guard let work = Self.entries(of: workPath), let top = Self.entries(of: path) else {
            throw JobFailure(.internalError, "cannot list \(path)")
        }
        for entry in work {
            let file = workPath + "/" + entry.name
            let reusable = !entry.isDirectory && Self.isReusableFile(file)
            if reusable && entry.name != "RESULT" { continue }
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
