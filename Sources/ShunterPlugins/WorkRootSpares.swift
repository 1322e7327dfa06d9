import Foundation
import Synchronization

/// The spare directories and files kept under one work root for later jobs
/// (`WorkDirectoryRecycling` says why), known in memory so that taking one is a single rename,
/// never a directory listing.
///
/// ```
/// <root>/.spare/dirs/<name>/            a job directory: work/ (its regular files but RESULT), stdout, stderr (empty)
/// <root>/.spare/files/<shard>/<name>    a file an earlier job left, its old bytes still in it
/// ```
/// Files are spread over `fileShards` directories of about 64 entries: a rename into or out of
/// a directory costs more the more entries it holds (docs/performance.md), and a trivial job
/// moves five files through the pool.
/// Both are taken by renaming them into a job's directory, so two jobs (or two brokers on one
/// root) never get the same one: the rename decides, and a name that is gone is skipped. The
/// first use in a process adopts what an earlier broker left.
final class WorkRootSpares: Sendable {
    let root: String
    /// Emptied job directories kept at most; more are removed.
    static let directoryLimit = 32
    /// Files kept at most (one 4 KiB block each for a trivial job: 16 MiB). Each job leaves one
    /// file more than it takes (bash creates `RESULT`), so a busy broker fills the pool; until
    /// then no job frees an inode or a block, and the housekeeping trims it back to
    /// `fileFloor`.
    static let fileLimit = 4096
    static let fileFloor = 256
    static let fileShards = 64

    private struct State {
        var directories: [String] = []
        var files: [String] = []
        var counter = 0
    }

    private let state: Mutex<State>
    /// Names made by this process: a random prefix, so that they never meet the names an
    /// earlier broker left (which are adopted), then a counter.
    private let prefix = String(UInt64.random(in: 0...UInt64.max), radix: 36)

    var directoriesPath: String { root + "/.spare/dirs" }
    var filesPath: String { root + "/.spare/files" }

    private init(root: String) {
        self.root = root
        var adopted = State()
        adopted.directories = Self.names(in: root + "/.spare/dirs")
        // A shard's files, and files directly in the pool (the layout before shards).
        adopted.files = (WorkDirectory.entries(of: root + "/.spare/files") ?? []).flatMap { entry in
            entry.isDirectory
                ? Self.names(in: root + "/.spare/files/" + entry.name).map { entry.name + "/" + $0 } : [entry.name]
        }
        state = Mutex(adopted)
        // Spares of the layout before this one (`.spare/<uuid>/` with a `.files/` pool inside).
        for name in Self.names(in: root + "/.spare") where name != "dirs" && name != "files" {
            try? FileManager.default.removeItem(atPath: root + "/.spare/" + name)
        }
    }

    private static let registry = Mutex<[String: WorkRootSpares]>([:])

    /// The spares of `root`, one instance per root in this process.
    static func of(root: String) -> WorkRootSpares {
        registry.withLock { spares in
            if let existing = spares[root] { return existing }
            let created = WorkRootSpares(root: root)
            spares[root] = created
            return created
        }
    }

    /// A spare directory's path, removed from the pool; nil when there is none.
    func takeDirectory() -> String? {
        state.withLock { $0.directories.popLast() }.map { directoriesPath + "/" + $0 }
    }

    /// A spare file's path, removed from the pool; nil when there is none.
    func takeFile() -> String? {
        state.withLock { $0.files.popLast() }.map { filesPath + "/" + $0 }
    }

    /// Moves `directory` (cleared by `WorkDirectory.recycle`) into the pool; false when the
    /// pool is full or the move failed, and the caller removes it.
    func keepDirectory(_ directory: String) -> Bool {
        keep(directory, limit: Self.directoryLimit, in: directoriesPath, sharded: false, \.directories)
    }

    /// Moves `file` into the pool; false when the pool is full or the move failed.
    func keepFile(_ file: String) -> Bool {
        keep(file, limit: Self.fileLimit, in: filesPath, sharded: true, \.files)
    }

    private func keep(
        _ path: String, limit: Int, in pool: String, sharded: Bool, _ names: WritableKeyPath<State, [String]>
    ) -> Bool {
        guard
            let name = state.withLock({ state -> String? in
                guard state[keyPath: names].count < limit else { return nil }
                state.counter += 1
                let name = "\(prefix)-\(state.counter)"
                return sharded ? String(state.counter % Self.fileShards, radix: 16) + "/" + name : name
            })
        else { return false }
        var moved = rename(path, pool + "/" + name) == 0
        if !moved && errno == ENOENT {
            // The first spare of this root or shard (or the pool was removed by hand); an
            // existing directory is no error here, a missing `path` fails the rename again.
            mkdir(root + "/.spare", 0o755)
            mkdir(pool, 0o755)
            if let slash = name.firstIndex(of: "/") { mkdir(pool + "/" + name[..<slash], 0o755) }
            moved = rename(path, pool + "/" + name) == 0
        }
        if moved { state.withLock { $0[keyPath: names].append(name) } }
        return moved
    }

    /// Removes spare files beyond `keep`, oldest first: the housekeeping's share of the
    /// deletions the jobs did not make. Returns how many were removed.
    @discardableResult
    func trimFiles(keeping keep: Int = fileFloor) -> Int {
        let excess = state.withLock { state -> [String] in
            let count = max(0, state.files.count - keep)
            let removed = Array(state.files.prefix(count))
            state.files.removeFirst(count)
            return removed
        }
        for name in excess { unlink(filesPath + "/" + name) }
        return excess.count
    }

    var counts: (directories: Int, files: Int) {
        state.withLock { ($0.directories.count, $0.files.count) }
    }

    private static func names(in directory: String) -> [String] {
        (WorkDirectory.entries(of: directory) ?? []).map(\.name)
    }
}
