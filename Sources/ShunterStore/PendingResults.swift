import ShunterCore
import Synchronization

/// Results that jobs stored and that no commit has written yet: `SQLiteResultStore` commits
/// them in batches and answers its readers from here meanwhile.
///
/// Why batches: a commit of its own was the largest part of a trivial job's cost that the
/// broker could remove (`docs/performance.md`): about ten WAL frames, eight lock
/// calls and the wal-index update, for rows that a dozen neighbouring jobs could have shared.
/// A reader never sees the difference: a row is here from `add` until its commit is done.
final class PendingResults: Sendable {
    struct Row: Sendable {
        var transformation: Checksum
        var result: Checksum
        var metadata: JSONValue?
        /// Which `add` this was. A commit drops only the rows it wrote: a later `add` for the
        /// same transformation, made while the commit ran, stays for the next one.
        var serial: UInt64
    }

    private struct State {
        var rows: [Checksum: Row] = [:]
        var nextSerial: UInt64 = 0
        var commitScheduled = false
    }

    private let state = Mutex(State())

    /// Adds (or replaces) the row of a transformation. Returns true when no commit was
    /// scheduled: the caller schedules one.
    func add(_ result: Checksum, for transformation: Checksum, metadata: JSONValue?) -> Bool {
        state.withLock { state in
            state.nextSerial += 1
            state.rows[transformation] = Row(
                transformation: transformation, result: result, metadata: metadata, serial: state.nextSerial)
        }
        return claimCommitSchedule()
    }

    func row(for transformation: Checksum) -> Row? {
        state.withLock { $0.rows[transformation] }
    }

    var isEmpty: Bool { state.withLock { $0.rows.isEmpty } }

    /// The rows to write, in the order they were added (the reverse table's ids follow it).
    func snapshot() -> [Row] {
        state.withLock { $0.rows.values.sorted { $0.serial < $1.serial } }
    }

    /// Called by the scheduled commit as it starts: rows added from now on schedule another.
    func startScheduledCommit() {
        state.withLock { $0.commitScheduled = false }
    }

    /// True when no commit was scheduled and the caller is to schedule one (a retry).
    func claimCommitSchedule() -> Bool {
        state.withLock { state in
            defer { state.commitScheduled = true }
            return !state.commitScheduled
        }
    }

    /// Forgets the rows a commit wrote, unless a later `add` replaced them.
    func committed(_ rows: [Row]) {
        guard !rows.isEmpty else { return }
        state.withLock { state in
            for row in rows where state.rows[row.transformation]?.serial == row.serial {
                state.rows[row.transformation] = nil
            }
        }
    }
}
