import Dispatch
import GRDB
import Synchronization

/// Copies a WAL-mode SQLite file's log back into the database from a connection and a queue of
/// its own, so that commits on the broker's event loops never wait for a checkpoint's fsyncs.
///
/// SQLite's automatic checkpoint runs inside the commit that takes the log past 1 000 pages,
/// on the committing thread. The result cache and the journal commit on the event loops, and a
/// checkpoint there holds the loop in `fdatasync` for milliseconds while the requests queued on
/// it wait: under many concurrent trivial jobs that was most of the time a core sat idle
/// (docs/performance.md). Here the writer's own automatic checkpoint only backs this one up (at
/// `writerBackstopPages`), and a PASSIVE checkpoint, which waits for neither the writer nor
/// the readers, runs after every `commitsPerCheckpoint` commits.
///
/// Why the backstop: a log restarts from its beginning only when a write begins with every
/// frame copied back, which a checkpoint running beside a busy writer rarely leaves; the
/// writer's own checkpoint, rare now and with most frames already copied, lets it restart.
package final class WALCheckpointer: Sendable {
    /// The writer's `wal_autocheckpoint` once a checkpointer runs beside it.
    package static let writerBackstopPages = 10_000

    private let connection: DatabaseQueue
    private let queue: DispatchQueue
    private let commitsPerCheckpoint: Int
    private let commits = Atomic<Int>(0)
    private let completed = Atomic<Int>(0)

    /// Checkpoints that ran to the end (for tests and diagnostics).
    package var checkpointsRun: Int { completed.load(ordering: .relaxed) }

    /// A checkpointer for `pool`'s database, whose writer from now on checkpoints only at
    /// `writerBackstopPages`.
    package static func attach(to pool: DatabasePool, label: String) throws -> WALCheckpointer {
        try pool.barrierWriteWithoutTransaction { db in
            try db.execute(sql: "PRAGMA wal_autocheckpoint = \(writerBackstopPages)")
        }
        return try WALCheckpointer(path: pool.path, label: label)
    }

    /// `pool`'s writer's `wal_autocheckpoint` (SQLite's default is 1 000 pages).
    package static func writerAutocheckpointPages(of pool: DatabasePool) throws -> Int {
        try pool.barrierWriteWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA wal_autocheckpoint") ?? -1 }
    }

    /// Opens a connection of its own to the database at `path`, which must exist in WAL mode.
    package init(path: String, label: String, commitsPerCheckpoint: Int = 100) throws {
        var configuration = Configuration()
        configuration.label = "\(label).checkpointer"
        // For opening only: a PASSIVE checkpoint never calls the busy handler.
        configuration.busyMode = .timeout(10)
        connection = try DatabaseQueue(path: path, configuration: configuration)
        queue = DispatchQueue(label: "\(label).checkpointer", qos: .utility)
        self.commitsPerCheckpoint = commitsPerCheckpoint
    }

    /// Counts a commit; every `commitsPerCheckpoint`th one schedules a checkpoint. Cheap (one
    /// atomic add) on the committing thread.
    package func noteCommit() {
        let count = commits.add(1, ordering: .relaxed).newValue
        guard count % commitsPerCheckpoint == 0 else { return }
        queue.async { [self] in checkpoint() }
    }

    /// Runs a PASSIVE checkpoint now, on the calling thread; returns the log's frame count and
    /// how many of them are in the database now (nil when it could not run: another checkpoint
    /// held the database, or an I/O error).
    @discardableResult
    package func checkpoint() -> (walFrameCount: Int, checkpointedFrameCount: Int)? {
        guard let frames = try? connection.writeWithoutTransaction({ db in try db.checkpoint(.passive) }) else {
            return nil
        }
        completed.add(1, ordering: .relaxed)
        return frames
    }

    /// Returns once the checkpoints scheduled so far have run.
    package func waitForScheduledCheckpoints() {
        queue.sync {}
    }
}
