import Foundation
import Logging

/// Watches every Slurm job of one backend with ONE `squeue` call per interval, whatever the
/// number of jobs: `squeue --me -t all` lists the user's pending, running and recently ended
/// jobs (for `MinJobAge`) with state and exit status. Jobs it no longer lists are asked of
/// `sacct` (one call for all of them) when accounting is on, else read from the job's exit
/// marker. When a call fails or times out (controller slow or down) the interval doubles up to
/// `maxPollInterval`, and no job is judged on a failed answer.
///
/// The same call finds jobs by name (`find`), for a broker that was killed between `sbatch`
/// and journaling the job id.
actor SlurmQueuePoller {
    private let options: SlurmOptions
    private let runner: SlurmCommandRunner
    private let logger: Logger

    private struct Waiter {
        var until: @Sendable (SlurmJobStatus) -> Bool
        var continuation: CheckedContinuation<SlurmJobStatus, any Error>
    }

    private struct Watch {
        var markerPath: String
        /// Poll generation at registration: only answers from later polls may judge the job.
        var since: Int
        var last: SlurmJobStatus?
        var missingPolls = 0
        var waiters: [Int: Waiter] = [:]
    }

    private struct Lookup {
        var name: String
        var workDirectory: String
        var since: Int
        var continuation: CheckedContinuation<SlurmJobStatus?, any Error>
    }

    private var watches: [String: Watch] = [:]
    private var lookups: [Int: Lookup] = [:]
    private var nextToken = 0
    private var generation = 0
    private var loop: Task<Void, Never>?
    private var accounting: Bool?
    private var failing = false
    /// Counts for tests and the admin page: how hard the controller is asked.
    private(set) var squeueCalls = 0
    private(set) var sacctCalls = 0

    /// A job missing from squeue, with no accounting record and no exit marker, this many
    /// polls in a row, is declared lost.
    static let missingPollsBeforeLost = 3

    init(options: SlurmOptions, runner: SlurmCommandRunner, logger: Logger) {
        self.options = options
        self.runner = runner
        self.logger = logger
        self.accounting = options.accounting
    }

    /// Waits until the job's status satisfies `until` (or is terminal) and returns it.
    func wait(
        for jobID: String, markerPath: String, until: @escaping @Sendable (SlurmJobStatus) -> Bool
    ) async throws -> SlurmJobStatus {
        if let last = watches[jobID]?.last, last.isTerminal || until(last) { return last }
        nextToken += 1
        let token = nextToken
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                    return
                }
                watches[jobID, default: Watch(markerPath: markerPath, since: generation + 1)]
                    .waiters[token] = Waiter(until: until, continuation: continuation)
                startLoop()
            }
        } onCancel: {
            Task { await self.dropWaiter(jobID, token) }
        }
    }

    /// The newest job of the user with this name and work directory, as the next successful
    /// poll (and `sacct`, with accounting) sees it; nil when Slurm knows none.
    func find(name: String, workDirectory: String) async throws -> SlurmJobStatus? {
        nextToken += 1
        let token = nextToken
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                    return
                }
                lookups[token] = Lookup(
                    name: name, workDirectory: workDirectory, since: generation + 1, continuation: continuation)
                startLoop()
            }
        } onCancel: {
            Task { await self.dropLookup(token) }
        }
    }

    func callCounts() -> (squeue: Int, sacct: Int) { (squeueCalls, sacctCalls) }

    private func dropWaiter(_ jobID: String, _ token: Int) {
        guard let waiter = watches[jobID]?.waiters.removeValue(forKey: token) else { return }
        waiter.continuation.resume(throwing: CancellationError())
        if watches[jobID]?.waiters.isEmpty == true { watches[jobID] = nil }
    }

    private func dropLookup(_ token: Int) {
        lookups.removeValue(forKey: token)?.continuation.resume(throwing: CancellationError())
    }

    // MARK: - The loop

    private func startLoop() {
        guard loop == nil else { return }
        loop = Task { await self.runLoop() }
    }

    private func runLoop() async {
        var interval = options.pollInterval
        while !watches.isEmpty || !lookups.isEmpty {
            let ok = await pollOnce()
            interval = ok ? options.pollInterval : min(interval * 2, options.maxPollInterval)
            if !watches.isEmpty || !lookups.isEmpty {
                try? await Task.sleep(for: interval)
            }
        }
        loop = nil
    }

    /// One round: one squeue call, plus one sacct call when jobs are missing from it.
    private func pollOnce() async -> Bool {
        generation += 1
        let current = generation
        squeueCalls += 1
        let result: SlurmCommandRunner.Result
        do {
            result = try await runner.run(
                "squeue", ["--me", "--noheader", "--states=all", "--Format=\(SlurmJobStatus.squeueFormat)"])
        } catch {
            return false
        }
        guard result.succeeded else {
            if !failing {
                logger.warning("squeue failed; backing off", metadata: ["error": "\(result.message)"])
                failing = true
            }
            return false
        }
        if failing {
            logger.notice("squeue answers again")
            failing = false
        }
        var byID: [String: SlurmJobStatus] = [:]
        var byName: [String: [SlurmJobStatus]] = [:]
        for line in result.stdout.split(separator: "\n") {
            guard let status = SlurmJobStatus(squeueLine: line) else { continue }
            byID[status.jobID] = status
            byName[status.name, default: []].append(status)
        }

        // Jobs squeue no longer lists (older than MinJobAge): ask sacct, all at once.
        let missing = watches.filter { $0.value.since <= current && byID[$0.key] == nil }.map(\.key)
        let unmatchedLookups = lookups.filter { entry in
            entry.value.since <= current
                && !(byName[entry.value.name] ?? []).contains { $0.workDirectory == entry.value.workDirectory }
        }
        if !missing.isEmpty || !unmatchedLookups.isEmpty, await accountingEnabled() {
            for status in await sacct(jobIDs: missing, names: unmatchedLookups.values.map(\.name)) {
                if byID[status.jobID] == nil { byID[status.jobID] = status }
                byName[status.name, default: []].append(status)
            }
        }

        for (jobID, var watch) in watches where watch.since <= current {
            if let status = byID[jobID] {
                watch.last = status
                watch.missingPolls = 0
            } else if let code = SlurmJobFiles.exitCode(atMarker: watch.markerPath) {
                // Forgotten by Slurm, but the script recorded how the command ended.
                watch.last = SlurmJobStatus(jobID: jobID, state: code == 0 ? "COMPLETED" : "FAILED", exitCode: code)
            } else {
                watch.missingPolls += 1
                if watch.missingPolls >= Self.missingPollsBeforeLost {
                    watch.last = SlurmJobStatus(
                        jobID: jobID, state: SlurmJobStatus.lost,
                        reason: "unknown to squeue\(accounting == true ? " and sacct" : ""), no exit marker")
                }
            }
            if let status = watch.last {
                for (token, waiter) in watch.waiters where status.isTerminal || waiter.until(status) {
                    watch.waiters[token] = nil
                    waiter.continuation.resume(returning: status)
                }
            }
            watches[jobID] = watch.waiters.isEmpty ? nil : watch
        }
        for (token, lookup) in lookups where lookup.since <= current {
            let match = (byName[lookup.name] ?? []).filter { $0.workDirectory == lookup.workDirectory }
                .max { (Int($0.jobID) ?? 0) < (Int($1.jobID) ?? 0) }
            lookups[token] = nil
            lookup.continuation.resume(returning: match)
        }
        return true
    }

    private func accountingEnabled() async -> Bool {
        if let accounting { return accounting }
        sacctCalls += 1
        guard
            let probe = try? await runner.run(
                "sacct", ["--noheader", "--parsable2", "--allocations", "--format=JobID", "--starttime=now-1minutes"])
        else { return false }
        // "Slurm accounting storage is disabled" comes with a failing status.
        let enabled = probe.succeeded && !probe.stderr.contains("disabled")
        accounting = enabled
        logger.info(
            "Slurm accounting \(enabled ? "is on: sacct resolves jobs squeue forgot" : "is off: exit markers resolve jobs squeue forgot")"
        )
        return enabled
    }

    private func sacct(jobIDs: [String], names: [String]) async -> [SlurmJobStatus] {
        var statuses: [SlurmJobStatus] = []
        let base = ["--noheader", "--parsable2", "--allocations", "--format=\(SlurmJobStatus.sacctFields)"]
        var calls: [[String]] = []
        if !jobIDs.isEmpty { calls.append(base + ["--jobs=\(jobIDs.joined(separator: ","))"]) }
        // By name only for recovery lookups; a month back covers any broker downtime worth recovering.
        if !names.isEmpty {
            calls.append(base + ["--starttime=now-30days", "--name=\(Set(names).sorted().joined(separator: ","))"])
        }
        for arguments in calls {
            sacctCalls += 1
            guard let result = try? await runner.run("sacct", arguments), result.succeeded else { continue }
            statuses += result.stdout.split(separator: "\n").compactMap { SlurmJobStatus(sacctLine: $0) }
        }
        return statuses
    }
}
