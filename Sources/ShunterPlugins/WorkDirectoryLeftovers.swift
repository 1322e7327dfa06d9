import Synchronization

/// The files an earlier job left in a reused directory's `work/`, for a plugin that writes its
/// own files in place (`WorkDirectory.create(reusingFiles: true)`).
///
/// A write of one of these names overwrites that file: no rename into the pool and none out of
/// it, which were four of a trivial bash job's seven renames (docs/performance.md). Whatever the
/// job does not write goes to the pool before it runs (`WorkDirectory.evictLeftovers`), so the
/// job sees exactly its own files, as in a fresh directory.
final class WorkDirectoryLeftovers: Sendable {
    private let names: Mutex<Set<String>>

    init(_ names: some Sequence<String>) {
        self.names = Mutex(Set(names))
    }

    /// Claims the leftover called `name`: true when there was one, which the caller now owns.
    func take(_ name: String) -> Bool {
        names.withLock { $0.remove(name) != nil }
    }

    /// Claims every leftover not claimed yet.
    func takeAll() -> [String] {
        names.withLock { names in
            defer { names.removeAll() }
            return Array(names)
        }
    }
}
