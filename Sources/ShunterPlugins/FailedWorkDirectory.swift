import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What becomes of a failed job's work directory: kept for inspection (the janitor removes it
/// after `keep_failed_workdirs`), or removed at once when nothing is to be kept or when it
/// takes more disk than `keep_failed_workdirs_max_size`. A job that failed because it filled
/// the disk must not keep the disk full until the next sweep.
package enum FailedWorkDirectory {
    package enum Fate: Equatable, Sendable {
        case kept
        /// Removed at once; `bytes` is the disk space it took when it was too large, nil when
        /// failed directories are not kept at all.
        case removed(bytes: Int64?)
    }

    /// Keeps or removes `directory` after its job failed with `reason`.
    package static func settle(
        _ directory: WorkDirectory, reason: String, keepFor: Duration, maxBytes: Int64
    ) throws -> Fate {
        if keepFor <= .zero {
            try directory.remove()
            return .removed(bytes: nil)
        }
        let used = diskUsage(of: directory.path, stoppingAbove: maxBytes)
        if used > maxBytes {
            try directory.remove()
            return .removed(bytes: used)
        }
        do {
            try directory.markKept(reason: reason)
        } catch {
            // Unmarked, the janitor would never remove it: with no room even for the marker
            // (a full disk), the directory goes now.
            try directory.remove()
            return .removed(bytes: used)
        }
        return .kept
    }

    /// The disk space a tree takes (allocated blocks, so a sparse file counts for what it
    /// really uses), never following a symbolic link; the walk stops once it passes `limit`.
    static func diskUsage(of path: String, stoppingAbove limit: Int64) -> Int64 {
        var total: Int64 = 0
        var pending = [path]
        while let next = pending.popLast() {
            var status = stat()
            guard lstat(next, &status) == 0 else { continue }
            total += Int64(status.st_blocks) * 512
            if total > limit { return total }
            guard (status.st_mode & S_IFMT) == S_IFDIR, let entries = WorkDirectory.entries(of: next) else { continue }
            pending += entries.map { next + "/" + $0.name }
        }
        return total
    }
}
