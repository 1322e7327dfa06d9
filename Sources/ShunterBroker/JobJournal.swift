import Foundation
import GRDB
import Logging
import ShunterCore
import ShunterStore

/// The broker's memory across crashes: every job, written before the client hears of it.
///
/// SQLite in WAL mode. Writes are *group-committed*: callers that write while a commit is in
/// progress are gathered into the next transaction, so a burst of submissions costs one fsync
/// per batch rather than one per job, and each caller still returns only once its own write is
/// durable.
///
/// Writes nobody needs committed at once (a job run for a waiting caller, its end, states a
/// crash may lose) wait up to `batchWindow` for company, so that at a few hundred jobs a
/// second one commit carries a dozen jobs instead of one. Job ids are therefore handed out in
/// memory, from blocks reserved in the journal ahead of their use (`sqlite_sequence`): an id
/// is never given twice, even when a crash lost the row of the job that had it, and the ids a
/// crashed process had reserved but not committed (`unjournaledIDs`) tell recovery which
/// work directories belong to jobs the journal never heard of.
package actor JobJournal {
    /// How hard a commit is made durable.
    package enum Durability: String, Sendable {
        /// fsync on every commit: survives power loss.
        case full
        /// fsync at checkpoints only: survives a crash or `kill -9` of the broker (the OS
        /// still has the data), but power loss may lose the last commits.
        case normal
    }

    private let pool: DatabasePool
    /// The journal's file.
    package nonisolated let path: String
    /// Disk space held beside the journal (`<journal>.reserve`) and given back when a commit
    /// finds the disk full, so that the ends of jobs can still be journaled on a disk a job
    /// filled: otherwise such a job is never recorded as ended and runs again at every start.
    package nonisolated let reservePath: String
    /// The reserve's size; 0 keeps none.
    package nonisolated let reserveBytes: Int
    /// What the broker sets aside: room for thousands of job updates.
    package static let defaultReserveBytes = 16 << 20
    private let logger: Logger
    /// Checkpoints off the committing threads (the journal commits on an event loop).
    private let checkpointer: WALCheckpointer
    private let durability: Durability
    /// What the writer's `PRAGMA synchronous` is now (it is switched per batch).
    private var writerIsFull: Bool
    private var pending: [PendingWrite] = []
    private var flushing = false
    /// How long a write that nobody waits on at once may wait for the next commit.
    package let batchWindow: Duration
    /// When the open batch window ends; nil while no window is open.
    private var windowEnd: ContinuousClock.Instant?
    /// Wake `run()`'s loops: an urgent commit, a window opened, a deferral started. nil while
    /// `run()` is not running; awaited writes are then committed in their caller's task.
    private var flushRequests: AsyncStream<Void>.Continuation?
    private var windowOpenings: AsyncStream<Void>.Continuation?
    private var deferralStarts: AsyncStream<Void>.Continuation?
    /// A commit was asked of `run()`'s flush loop and has not begun.
    private var flushRequested = false
    /// The outcome of the write of a caller that commits in its own task (no `run()`).
    private var committerResult: Result<Int64?, any Error>?
    /// The next job id to hand out, and the last one the journal has reserved durably.
    private var nextID: Int64
    private var reservedThrough: Int64
    /// Ids are reserved this many at a time: one synced write per block.
    static let idBlock: Int64 = 1024
    /// Ids the previous broker process reserved and never committed a job row under: unused
    /// ones, and those of jobs whose batched insert was still waiting when it died. Recovery
    /// removes the work directories of such ids and stops what runs there. nil when none.
    package nonisolated let unjournaledIDs: ClosedRange<Int64>?
    /// `.eventually` and `.deferred` writes that failed; nobody waited for them, so they are counted.
    private var lostWrites = 0
    /// Commits that were fsynced (batches holding a durable write, with `Durability.full`).
    private var syncedCommits = 0
    /// Rows written, counting each write of a job's row and each insert.
    private var writtenRows = 0
    /// Records held back by `.deferred` writes, by job; a later write of the same job drops them.
    private var deferred: [JobID: JobRecord] = [:]
    /// When the records held back by `.deferred` are due; nil while none are.
    private var deferralEnd: ContinuousClock.Instant?
    /// How long a `.deferred` write holds a record back at most.
    package let deferral: Duration

    private struct PendingWrite {
        let apply: @Sendable (Database) throws -> Int64?
        /// nil for a write nobody waits for (`.eventually`).
        let continuation: CheckedContinuation<Int64?, any Error>?
        /// Must survive power loss once its caller returns (with `Durability.full`).
        let durable: Bool
        /// Committed at once, rather than at the end of the batch window.
        let urgent: Bool
        /// Written by a caller that commits it in its own task and reads `committerResult`.
        var committer = false
    }

    package init(
        path: String, durability: Durability = .full, deferral: Duration = .milliseconds(200),
        batchWindow: Duration = .milliseconds(10), reserveBytes: Int = 0,
        logger: Logger = Logger(label: "shunter.journal")
    ) throws {
        self.path = path
        self.reserveBytes = reserveBytes
        self.reservePath = path + ".reserve"
        self.logger = logger
        self.durability = durability
        self.deferral = deferral
        self.batchWindow = batchWindow
        writerIsFull = durability == .full
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        var configuration = Configuration()
        // Another connection to the same file (a tool reading the journal, a broker that is
        // still stopping) holds its lock for a commit at most: wait for it rather than fail.
        configuration.busyMode = .timeout(10)
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            // On the writer, after the pool is open: GRDB's WAL set-up runs after
            // `prepareDatabase` and sets `synchronous = NORMAL`, which would silently drop the
            // fsync of each commit (seen with strace: no fdatasync of the WAL per job).
            try pool.barrierWriteWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = \(durability == .full ? "FULL" : "NORMAL")")
            }
            try JobJournal.migrator.migrate(pool)
            checkpointer = try WALCheckpointer.attach(to: pool, label: "shunter.journal")
            let (committed, reserved) = try pool.read { db in
                (
                    try Int64.fetchOne(db, sql: "SELECT max(id) FROM jobs") ?? 0,
                    try Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'jobs'") ?? 0
                )
            }
            unjournaledIDs = reserved > committed ? (committed + 1)...reserved : nil
            if reserveBytes > 0 && !Self.makeReserve(at: path + ".reserve", bytes: reserveBytes) {
                logger.warning(
                    "cannot set disk space aside for the journal: on a full disk, the ends of jobs may not be journaled",
                    metadata: ["path": "\(path).reserve", "bytes": "\(reserveBytes)"])
            }
            nextID = max(committed, reserved) + 1
            reservedThrough = max(committed, reserved)
        } catch {
            throw JournalError(path: path, reason: "\(error)")
        }
    }

    /// The writer's `wal_autocheckpoint` (the checkpointer's backstop; SQLite's default is 1 000).
    private func writerAutocheckpointPages() throws -> Int {
        try WALCheckpointer.writerAutocheckpointPages(of: pool)
    }

    /// The writer's `PRAGMA synchronous`: 2 for FULL, 1 for NORMAL (what commits really do).
    private func writerSynchronous() throws -> Int {
        try pool.barrierWriteWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    /// What the journal has done since it was opened, and what it holds: `GET /status` shows it.
    package func statistics() async throws -> JournalStatistics {
        let synchronous = try writerSynchronous()
        return JournalStatistics(
            syncedCommits: syncedCommits, writtenRows: writtenRows, lostWrites: lostWrites,
            synchronous: synchronous == 2 ? "full" : synchronous == 1 ? "normal" : "\(synchronous)",
            autocheckpointPages: try writerAutocheckpointPages(), jobsByState: try await stateCounts())
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-jobs") { db in
            try db.execute(
                sql: """
                    CREATE TABLE jobs (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        tf_checksum TEXT NOT NULL,
                        state TEXT NOT NULL,
                        language TEXT NOT NULL,
                        handler TEXT,
                        request BLOB NOT NULL,
                        created_at REAL NOT NULL,
                        updated_at REAL NOT NULL,
                        started_at REAL,
                        finished_at REAL,
                        result_checksum TEXT,
                        error TEXT,
                        stdout_tail TEXT,
                        stderr_tail TEXT,
                        external_id TEXT,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        workdir TEXT
                    );
                    CREATE INDEX jobs_state ON jobs(state);
                    CREATE INDEX jobs_tf ON jobs(tf_checksum);
                    """)
        }
        // How many broker starts in a row found the job unfinished (the poison-job guard:
        // `beginRecovery`); a graceful stop sets it back to 0.
        migrator.registerMigration("v2-recoveries") { db in
            try db.execute(sql: "ALTER TABLE jobs ADD COLUMN recoveries INTEGER NOT NULL DEFAULT 0")
        }
        return migrator
    }

    // MARK: writes

    /// Journals a new queued job and returns its id. With `.durable` (the default), when this
    /// returns the job survives a crash of the broker, and with `Durability.full` a power loss
    /// too: for a job whose id the caller is told. With `.eventually`, the row goes with the
    /// next commit, within `batchWindow`, and the id comes back at once: for a job run for a
    /// waiting caller, who hears of it only through its result. A crash before that commit
    /// loses the row (the caller's request fails with the broker); the id stays in
    /// `unjournaledIDs`, so recovery finds the job's work directory. An insert is never held
    /// back nor skipped: `.deferred` and `.memoryOnly` write it as `.eventually` does.
    package func insert(
        transformation: Checksum, language: String, request: [UInt8], at time: Double,
        durability: JournalDurability = .durable
    ) async throws -> JobID {
        let id = try takeID()
        let statement = Self.insertStatement(
            id, transformation: transformation, language: language, request: request, at: time)
        switch durability {
        case .memoryOnly, .deferred, .eventually:
            pending.append(PendingWrite(apply: statement, continuation: nil, durable: false, urgent: false))
            startFlushing(urgent: false)
        case .batched, .committed, .durable:
            _ = try await enqueue(durable: durability == .durable, urgent: durability != .batched, statement)
        }
        return id
    }

    private static func insertStatement(
        _ id: JobID, transformation: Checksum, language: String, request: [UInt8], at time: Double
    ) -> @Sendable (Database) throws -> Int64? {
        let tf = transformation.hex
        let requestData = Data(request)
        return { db in
            // Cached statements (here and in updates): compiled once per connection, not for
            // every job.
            try db.cachedStatement(
                sql: """
                    INSERT INTO jobs (id, tf_checksum, state, language, request, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """
            ).execute(arguments: [id.rawValue, tf, JobState.queued.rawValue, language, requestData, time, time])
            return nil
        }
    }

    /// The next job id. Past the reserved ones, the next block is reserved first, with a synced
    /// commit of its own made right here (once per `idBlock` jobs): no suspension between
    /// handing out an id and knowing it can never be handed out again.
    private func takeID() throws -> JobID {
        if nextID > reservedThrough {
            let through = nextID + Self.idBlock - 1
            let sync = durability == .full
            try writeNow { db in
                if sync != writerIsFull { try db.execute(sql: "PRAGMA synchronous = \(sync ? "FULL" : "NORMAL")") }
                try db.inTransaction(.immediate) {
                    // The row exists once a job was inserted; before that it is made here.
                    try db.execute(
                        sql: """
                            INSERT INTO sqlite_sequence (name, seq) SELECT 'jobs', 0
                            WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'jobs')
                            """)
                    try db.execute(
                        sql: "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'jobs'", arguments: [through])
                    return .commit
                }
            }
            writerIsFull = sync
            checkpointer.noteCommit()
            reservedThrough = through
        }
        defer { nextID += 1 }
        return JobID(nextID)
    }

    /// Journals `write` as durably as `durability` says (`JournalDurability`): the one way a
    /// job's row changes once inserted. Writes keep their order, so a later awaited write also
    /// commits every earlier one; a record written by any durability but `.deferred` drops the
    /// same job's record held back by `.deferred`, which it supersedes.
    package func write(_ write: JournalWrite, _ durability: JournalDurability) async throws {
        let statement: @Sendable (Database) throws -> Int64?
        switch write {
        case .record(let record):
            if durability == .deferred {
                deferRecord(record)
                return
            }
            if durability == .memoryOnly { return }
            deferred[record.id] = nil
            statement = Self.updateStatement(record)
        case .touch(let id, let time):
            // Only `updated_at` changes, and it must: SQLite writes nothing for an update that
            // leaves a row's bytes as they were (seen: no WAL frame, so nothing to sync).
            statement = { db in
                try db.cachedStatement(sql: "UPDATE jobs SET updated_at = max(?, updated_at + 0.000001) WHERE id = ?")
                    .execute(arguments: [time, id.rawValue])
                return nil
            }
        case .failUnreadable(let id, let error, let time):
            statement = { db in
                try db.execute(
                    sql: "UPDATE jobs SET state = ?, error = ?, finished_at = ?, updated_at = ? WHERE id = ?",
                    arguments: [JobState.failed.rawValue, error, time, time, id.rawValue])
                return nil
            }
        }
        switch durability {
        case .memoryOnly:
            return
        case .deferred, .eventually:
            // Nobody waits: a failure is counted in `lostWrites`.
            pending.append(PendingWrite(apply: statement, continuation: nil, durable: false, urgent: false))
            startFlushing(urgent: false)
        case .batched:
            _ = try await enqueue(durable: false, urgent: false, statement)
        case .committed:
            _ = try await enqueue(durable: false, urgent: true, statement)
        case .durable:
            _ = try await enqueue(durable: true, urgent: true, statement)
        }
    }

    /// Returns once every write queued before it, and every record held back by `.deferred`,
    /// is committed (at a graceful stop).
    package func commitPending() async throws {
        writeDeferred()
        _ = try await enqueue(durable: false) { _ in nil }
    }

    private static func updateStatement(_ record: JobRecord) -> @Sendable (Database) throws -> Int64? {
        { db in
            try db.cachedStatement(
                sql: """
                    UPDATE jobs SET state = ?, handler = ?, updated_at = ?, started_at = ?, finished_at = ?,
                        result_checksum = ?, error = ?, stdout_tail = ?, stderr_tail = ?, external_id = ?,
                        attempts = ?, workdir = ?
                    WHERE id = ?
                    """
            ).execute(arguments: [
                record.state.rawValue, record.handler, record.updatedAt, record.startedAt, record.finishedAt,
                record.result?.hex, StoredText.capped(record.error), StoredText.capped(record.stdoutTail),
                StoredText.capped(record.stderrTail), record.externalID,
                record.attempts, record.workDirectory, record.id.rawValue,
            ])
            return nil
        }
    }

    /// Holds `record` back for `deferral`, unless a later write of the same job comes first:
    /// for what a crash may lose because recovery finds it another way (a local process's
    /// identity: `LeftoverProcesses` finds the process by its work directory, whose name the
    /// job's id gives). A trivial job ends a few milliseconds after it started, so its
    /// `running` row is never written: its end's write supersedes it.
    private func deferRecord(_ record: JobRecord) {
        deferred[record.id] = record
        guard deferralEnd == nil else { return }
        // One deadline for all records held back in the same window, not one per job.
        deferralEnd = ContinuousClock.now.advanced(by: deferral)
        deferralStarts?.yield()
    }

    /// Queues the records held back by `.deferred` now.
    private func writeDeferred() {
        deferralEnd = nil
        guard !deferred.isEmpty else { return }
        for record in deferred.values.sorted(by: { $0.id.rawValue < $1.id.rawValue }) {
            pending.append(
                PendingWrite(apply: Self.updateStatement(record), continuation: nil, durable: false, urgent: false))
        }
        deferred = [:]
        startFlushing(urgent: false)
    }

    /// An urgent write starts a commit now (which takes every pending write along); otherwise
    /// a commit comes at the end of the batch window. A running commit takes whatever is
    /// pending when it is done, urgent or not. Without `run()`, what nobody waits for stays
    /// pending until the next commit.
    private func startFlushing(urgent: Bool) {
        guard !flushing else { return }
        if urgent {
            guard let flushRequests else { return }
            windowEnd = nil
            flushing = true
            flushRequested = true
            flushRequests.yield()
        } else if windowEnd == nil {
            windowEnd = ContinuousClock.now.advanced(by: batchWindow)
            windowOpenings?.yield()
        }
    }

    /// Commits the journal's writes: urgent ones at once, the others at the end of their batch
    /// window, records held back by `.deferred` when their deferral is over. Runs until it is
    /// cancelled (the broker's `run()` cancels it after its last commit at a stop); one at a
    /// time. While it does not run, a write that is waited for is committed in its caller's
    /// task (the broker's recovery at start-up, before the process's services run).
    package func run() async {
        guard flushRequests == nil else {
            logger.error(
                "the journal's run() is already running: a second one returns at once", metadata: ["journal": "\(path)"]
            )
            return
        }
        let (requests, requestsIn) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let (windows, windowsIn) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let (deferrals, deferralsIn) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        flushRequests = requestsIn
        windowOpenings = windowsIn
        deferralStarts = deferralsIn
        // What was written while nothing ran waits no longer than it would have.
        if !pending.isEmpty, windowEnd == nil { windowEnd = ContinuousClock.now.advanced(by: batchWindow) }
        if windowEnd != nil { windowsIn.yield() }
        if !deferred.isEmpty, deferralEnd == nil { deferralEnd = ContinuousClock.now.advanced(by: deferral) }
        if deferralEnd != nil { deferralsIn.yield() }
        await withDiscardingTaskGroup { group in
            group.addTask { await self.commitOnRequest(requests) }
            group.addTask { await self.commitAtWindowEnds(windows) }
            group.addTask { await self.writeDeferredWhenDue(deferrals) }
        }
        flushRequests = nil
        windowOpenings = nil
        deferralStarts = nil
        windowEnd = nil
        deferralEnd = nil
        // A commit asked for and not begun: its writers wait for it.
        if flushRequested {
            flushRequested = false
            await flush()
        }
    }

    private func commitOnRequest(_ requests: AsyncStream<Void>) async {
        for await _ in requests where flushRequested {
            flushRequested = false
            await flush()
        }
    }

    private func commitAtWindowEnds(_ openings: AsyncStream<Void>) async {
        for await _ in openings {
            while let end = windowEnd {
                do { try await Task.sleep(until: end, clock: .continuous) } catch { return }
                // An urgent commit took the batch (and a later write may have opened a new window).
                guard windowEnd == end else { continue }
                windowEnd = nil
                guard !flushing, !pending.isEmpty else { continue }
                flushing = true
                await flush()
            }
        }
    }

    private func writeDeferredWhenDue(_ starts: AsyncStream<Void>) async {
        for await _ in starts {
            while let end = deferralEnd {
                do { try await Task.sleep(until: end, clock: .continuous) } catch { return }
                guard deferralEnd == end else { continue }
                writeDeferred()
            }
        }
    }

    private func enqueue(
        durable: Bool = true, urgent: Bool = true, _ apply: @escaping @Sendable (Database) throws -> Int64?
    ) async throws -> Int64? {
        guard flushRequests == nil, !flushing else {
            return try await withCheckedThrowingContinuation { continuation in
                pending.append(PendingWrite(apply: apply, continuation: continuation, durable: durable, urgent: urgent))
                startFlushing(urgent: urgent)
            }
        }
        // No `run()`: the caller commits, taking along whatever is pending (and whatever is
        // written while it commits).
        pending.append(PendingWrite(apply: apply, continuation: nil, durable: durable, urgent: urgent, committer: true))
        flushing = true
        await flush()
        defer { committerResult = nil }
        guard let committerResult else {
            throw JournalError(path: path, reason: "a commit ended without the outcome of its own write")
        }
        return try committerResult.get()
    }

    /// GRDB's synchronous write (in an async function the async overload would be chosen).
    private func writeNow<T>(_ body: (Database) throws -> T) throws -> T {
        try pool.writeWithoutTransaction(body)
    }

    /// A commit on GRDB's writer queue when `offThread`, right here otherwise, and right here
    /// too in a cancelled task: GRDB's asynchronous accesses refuse one, and a stopping
    /// process's last commits run in such a task.
    private func commit<T: Sendable>(offThread: Bool, _ body: @escaping @Sendable (Database) throws -> T) async throws
        -> T
    {
        if offThread && !Task.isCancelled { return try await pool.writeWithoutTransaction(body) }
        return try writeNow(body)
    }

    private func complete(_ write: PendingWrite, with result: Result<Int64?, any Error>) {
        if write.committer {
            committerResult = result
        } else if let continuation = write.continuation {
            continuation.resume(with: result)
        } else if case .failure = result {
            lostWrites += 1
        }
    }

    private func flush() async {
        while !pending.isEmpty {
            let batch = pending
            pending = []
            // One fsync per batch, and none for a batch that holds nothing durable: in WAL mode
            // a commit under NORMAL is not synced, and the next FULL commit syncs it too.
            let full = durability == .full && batch.contains(where: \.durable)
            let switchTo: String? = full == writerIsFull ? nil : (full ? "FULL" : "NORMAL")
            writerIsFull = full
            let statements = batch.map(\.apply)
            do {
                // A synced commit runs on GRDB's writer queue, not on this actor's thread: tasks
                // run on NIO's event loops, and an fsync there would stall a loop's I/O (slower
                // at concurrency 8 despite the thread wake-ups it saves; the batching keeps those
                // to one pair per commit, not per job). A commit without an fsync is short and
                // runs right here: the hop to the writer queue and back cost more per trivial job
                // than the commit itself (docs/architecture.md, "Concurrency").
                let results = try await commit(offThread: full) { db -> [Int64?] in
                    if let switchTo { try db.execute(sql: "PRAGMA synchronous = \(switchTo)") }
                    var results: [Int64?] = []
                    try db.inTransaction(.immediate) {
                        results = try statements.map { try $0(db) }
                        return .commit
                    }
                    return results
                }
                checkpointer.noteCommit()
                if full { syncedCommits += 1 }
                writtenRows += batch.count
                for (write, result) in zip(batch, results) { complete(write, with: .success(result)) }
            } catch {
                if reserveBytes > 0 && Self.isDiskFull(error) { releaseReserve(after: error) }
                // One bad write must not fail its neighbours: retry them one by one.
                for write in batch {
                    let apply = write.apply
                    do {
                        let result = try await commit(offThread: true) { db -> Int64? in
                            var result: Int64?
                            try db.inTransaction {
                                result = try apply(db)
                                return .commit
                            }
                            return result
                        }
                        checkpointer.noteCommit()
                        complete(write, with: .success(result))
                    } catch {
                        complete(write, with: .failure(error))
                    }
                }
            }
        }
        flushing = false
    }

    // MARK: disk space

    /// Creates the reserve file when it is missing (or short); false when the disk has no room.
    @discardableResult
    static func makeReserve(at path: String, bytes reserveBytes: Int) -> Bool {
        var status = stat()
        if stat(path, &status) == 0, status.st_size >= reserveBytes { return true }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        // Written, not truncated to size: a sparse file would hold no blocks.
        let chunk = [UInt8](repeating: 0, count: 1 << 20)
        for _ in 0..<max(1, reserveBytes / chunk.count) {
            let wrote = chunk.withUnsafeBytes { Glibc.write(fd, $0.baseAddress!, $0.count) }
            guard wrote == chunk.count else {
                unlink(path)
                return false
            }
        }
        guard fsync(fd) == 0 else {
            unlink(path)
            return false
        }
        return true
    }

    static func isDiskFull(_ error: any Error) -> Bool {
        guard let error = error as? DatabaseError else { return false }
        return error.resultCode == .SQLITE_FULL
    }

    /// Gives the reserve back to the disk so that the retried commit finds room.
    private func releaseReserve(after error: any Error) {
        let released = unlink(reservePath) == 0
        logger.error(
            released
                ? "the journal's disk is full: released the journal's reserve so that jobs' ends can still be recorded; free disk space"
                : "the journal's disk is full and its reserve is used up: jobs' ends cannot be recorded until disk space is freed",
            metadata: ["journal": "\(path)", "error": "\(error)"])
    }

    /// Sets the reserve aside again once the disk has room (the housekeeping calls this).
    /// Returns whether the reserve is in place.
    @discardableResult
    package func restoreReserve() -> Bool {
        reserveBytes == 0 || Self.makeReserve(at: reservePath, bytes: reserveBytes)
    }

    /// Removes the records of jobs that ended before `time` (seconds since 1970), and returns
    /// how many went. The newest row always stays: the journal's highest id tells the next start
    /// which ids were handed out (`unjournaledIDs`).
    @discardableResult
    package func removeEnded(before time: Double) async throws -> Int {
        let states = JobState.allCases.filter(\.isTerminal).map { "'\($0.rawValue)'" }.joined(separator: ",")
        return try await pool.write { db in
            try db.execute(
                sql: """
                    DELETE FROM jobs WHERE state IN (\(states)) AND finished_at < ?
                    AND id < (SELECT max(id) FROM jobs)
                    """,
                arguments: [time])
            return db.changesCount
        }
    }

    // MARK: reads

    package func record(_ id: JobID) async throws -> JobRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM jobs WHERE id = ?", arguments: [id.rawValue]).map {
                try JobJournal.decode($0)
            }
        }
    }

    package func list(_ filter: JobFilter) async throws -> [JobRecord] {
        var clauses: [String] = []
        var arguments: StatementArguments = []
        if let states = filter.states, !states.isEmpty {
            clauses.append("state IN (\(states.map { _ in "?" }.joined(separator: ",")))")
            for state in states { _ = arguments.append(contentsOf: [state.rawValue]) }
        }
        if let handler = filter.handler {
            clauses.append("handler = ?")
            _ = arguments.append(contentsOf: [handler])
        }
        if let tf = filter.transformation {
            clauses.append("tf_checksum = ?")
            _ = arguments.append(contentsOf: [tf.hex])
        }
        if let after = filter.after {
            clauses.append("id < ?")
            _ = arguments.append(contentsOf: [after.rawValue])
        }
        let whereSQL = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
        _ = arguments.append(contentsOf: [filter.limit])
        let sql = "SELECT * FROM jobs \(whereSQL) ORDER BY id DESC LIMIT ?"
        let finalArguments = arguments
        return try await pool.read { db in
            try Row.fetchAll(db, sql: sql, arguments: finalArguments).map { try JobJournal.decode($0) }
        }
    }

    /// Jobs that had not ended when the broker last stopped, oldest first, with what was
    /// submitted for each.
    package func unfinished() async throws -> [(record: JobRecord, request: [UInt8])] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM jobs WHERE state IN (\(Self.unfinishedStates)) ORDER BY id").map {
                row in
                (try JobJournal.decode(row), [UInt8](try row.decode(Data.self, forColumn: "request")))
            }
        }
    }

    /// One unfinished job as recovery finds it.
    package enum RecoveryCandidate: Sendable {
        /// `recoveries`: how many starts in a row found it unfinished, this one included.
        case readable(JobRecord, request: [UInt8], recoveries: Int)
        /// A row that cannot be read back (a corrupt or hand-edited journal): it can only fail.
        case unreadable(JobID, reason: String)
    }

    /// The jobs that had not ended when the broker last stopped, oldest first, each with its
    /// count of recoveries, incremented and committed before this returns: should the job
    /// then bring the broker down (a crash nobody foresaw, while preparing or running it),
    /// the next start knows it was one of those in flight. A graceful stop resets the counts
    /// (`forgetRecoveries`).
    package func beginRecovery() async throws -> [RecoveryCandidate] {
        try await pool.write { db in
            try db.execute(sql: "UPDATE jobs SET recoveries = recoveries + 1 WHERE state IN (\(Self.unfinishedStates))")
            return try Row.fetchAll(db, sql: "SELECT * FROM jobs WHERE state IN (\(Self.unfinishedStates)) ORDER BY id")
                .map { row -> RecoveryCandidate in
                    let id = JobID(row["id"] as Int64)
                    do {
                        let record = try JobJournal.decode(row)
                        let request = [UInt8](try row.decode(Data.self, forColumn: "request"))
                        return .readable(
                            record, request: request, recoveries: try row.decode(Int.self, forColumn: "recoveries"))
                    } catch {
                        return .unreadable(id, reason: "\(error)")
                    }
                }
        }
    }

    /// At a graceful stop: the jobs left unfinished were stopped by it, not by a crash.
    package func forgetRecoveries() async throws {
        // Like a commit: at a stop, possibly in a cancelled task.
        try await commit(offThread: true) { db in
            try db.execute(
                sql: "UPDATE jobs SET recoveries = 0 WHERE recoveries > 0 AND state IN (\(Self.unfinishedStates))")
        }
    }

    /// The recoveries count of a job (tests, diagnostics).
    package func recoveries(of id: JobID) async throws -> Int? {
        try await pool.read { db in
            try Int.fetchOne(db, sql: "SELECT recoveries FROM jobs WHERE id = ?", arguments: [id.rawValue])
        }
    }

    private static let unfinishedStates = JobState.allCases.filter { !$0.isTerminal }.map { "'\($0.rawValue)'" }
        .joined(separator: ",")

    /// Counts of jobs per state, for health and metrics.
    private func stateCounts() async throws -> [JobState: Int] {
        try await pool.read { db in
            var counts: [JobState: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM jobs GROUP BY state") {
                if let state = JobState(rawValue: row["state"]) { counts[state] = row["n"] }
            }
            return counts
        }
    }

    /// A row as a record; throws (never traps) on a value of the wrong type, which only a
    /// corrupt or hand-edited journal holds.
    private static func decode(_ row: Row) throws -> JobRecord {
        let tfText = try row.decode(String.self, forColumn: "tf_checksum")
        let tf: Checksum
        do {
            tf = try Checksum(hex: tfText)
        } catch {
            throw JournalRowError(column: "tf_checksum", reason: "'\(tfText.prefix(80))' is not a checksum")
        }
        let stateText = try row.decode(String.self, forColumn: "state")
        guard let state = JobState(rawValue: stateText) else {
            throw JournalRowError(column: "state", reason: "'\(stateText.prefix(40))' is not a job state")
        }
        var record = JobRecord(
            id: JobID(try row.decode(Int64.self, forColumn: "id")), transformation: tf, state: state,
            language: try row.decode(String.self, forColumn: "language"),
            createdAt: try row.decode(Double.self, forColumn: "created_at"))
        record.handler = try row.decode(String?.self, forColumn: "handler")
        record.updatedAt = try row.decode(Double.self, forColumn: "updated_at")
        record.startedAt = try row.decode(Double?.self, forColumn: "started_at")
        record.finishedAt = try row.decode(Double?.self, forColumn: "finished_at")
        record.result = try row.decode(String?.self, forColumn: "result_checksum").flatMap { try? Checksum(hex: $0) }
        record.error = try row.decode(String?.self, forColumn: "error")
        record.stdoutTail = try row.decode(String?.self, forColumn: "stdout_tail")
        record.stderrTail = try row.decode(String?.self, forColumn: "stderr_tail")
        record.externalID = try row.decode(String?.self, forColumn: "external_id")
        record.attempts = try row.decode(Int.self, forColumn: "attempts")
        record.workDirectory = try row.decode(String?.self, forColumn: "workdir")
        return record
    }
}

/// A journal row that cannot be read back.
struct JournalRowError: Error, CustomStringConvertible {
    let column: String
    let reason: String
    var description: String { "column \(column): \(reason)" }
}

package struct JournalError: Error, Sendable, CustomStringConvertible {
    package let path: String
    package let reason: String

    package var description: String { "job journal \(path): \(reason)" }
}

/// What one journal write changes in a job's row (`JobJournal.write`).
package enum JournalWrite: Sendable {
    /// The job's whole record: its state and everything that changed with it.
    case record(JobRecord)
    /// Only the row's `updated_at`: with `.durable`, a synced commit that makes the row, and
    /// every commit before it, survive a power loss.
    case touch(JobID, at: Double)
    /// Ends a job whose row cannot be read back as failed with `error`, touching nothing else.
    case failUnreadable(JobID, error: String, at: Double)
}

/// How hard one journal write is made to stick, and whether its writer waits for it: the
/// values the broker's durability policy (`DurabilityPolicy`) hands out, weakest first.
package enum JournalDurability: String, Sendable, CaseIterable, Comparable {
    /// Not written: kept in the broker's memory, where `record` and `list` show it, until the
    /// job's next write carries it.
    case memoryOnly
    /// Held back up to `JobJournal.deferral`, and dropped when a later write of the same job
    /// comes first; the writer does not wait.
    case deferred
    /// Goes with the next commit, within `JobJournal.batchWindow`; the writer does not wait
    /// (a failure is counted in `lostWrites`).
    case eventually
    /// Goes with the next commit, within the batch window, and the writer returns once it is
    /// committed, without an fsync of its own: a crash of the broker does not lose it, a power
    /// loss may.
    case batched
    /// Committed at once, without an fsync of its own (the next durable commit carries it to
    /// disk): survives a crash of the broker, not necessarily a power loss.
    case committed
    /// Committed at once with an fsync (with `Durability.full`): survives a power loss.
    case durable

    package static func < (lhs: Self, rhs: Self) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// The journal's counters and contents at a glance (`JobJournal.statistics()`).
package struct JournalStatistics: Sendable, Equatable {
    /// Commits that were fsynced (batches holding a durable write).
    package var syncedCommits: Int
    /// Rows written, counting each write of a job's row and each insert.
    package var writtenRows: Int
    /// Writes nobody waited for that failed (logged when they did).
    package var lostWrites: Int
    /// The writer's `PRAGMA synchronous` now: `full` or `normal`.
    package var synchronous: String
    /// The writer's `wal_autocheckpoint` (the checkpointer's backstop), in pages.
    package var autocheckpointPages: Int
    package var jobsByState: [JobState: Int]

    package init(
        syncedCommits: Int, writtenRows: Int, lostWrites: Int, synchronous: String, autocheckpointPages: Int,
        jobsByState: [JobState: Int]
    ) {
        self.syncedCommits = syncedCommits
        self.writtenRows = writtenRows
        self.lostWrites = lostWrites
        self.synchronous = synchronous
        self.autocheckpointPages = autocheckpointPages
        self.jobsByState = jobsByState
    }
}
