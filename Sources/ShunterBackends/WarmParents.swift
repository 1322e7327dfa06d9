import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The broker's warm parents, one per `WarmParentKey` in use: started on first use (or by
/// `prestart`), replaced when one dies or stops answering, stopped after their idle time.
package final class WarmParents: Sendable {
    package static let shared = WarmParents()

    /// How long a parent may take to import what jobs need before it counts as stuck.
    static let readyLimit: Duration = .seconds(300)
    /// How long forking and setting up one child may take before the parent counts as stuck.
    static let startLimit: Duration = .seconds(60)

    private struct State {
        var parents: [WarmParentKey: WarmParent] = [:]
        /// Keys whose parent could not import what jobs need: their jobs run cold until then.
        var coldUntil: [WarmParentKey: ContinuousClock.Instant] = [:]
    }

    private let state = Mutex(State())
    private let logger = Logger(label: "shunter.backend.warm")

    /// The live parent for `key`, started if there is none (or the last one died).
    func parent(for key: WarmParentKey, idleTimeout: Duration) throws -> WarmParent? {
        try state.withLock { state -> WarmParent? in
            if let until = state.coldUntil[key] {
                if ContinuousClock.now < until { return nil }
                state.coldUntil[key] = nil
            }
            if let parent = state.parents[key], !parent.isDead { return parent }
            let parent = try WarmParent.launch(key, idleTimeout: idleTimeout, logger: logger)
            state.parents[key] = parent
            return parent
        }
    }

    /// Starts the parent for `key` now (a handler's `warm_start: at-start`), so that even the
    /// first job finds it warm.
    package func prestart(_ key: WarmParentKey, idleTimeout: Duration) {
        do {
            guard let parent = try parent(for: key, idleTimeout: idleTimeout) else { return }
            Task.detached { [self] in
                if await ready(parent) != nil { parent.startIdleClock() }
            }
        } catch {
            logger.warning("cannot start a warm parent", metadata: ["kind": "\(key.label)", "error": "\(error)"])
        }
    }

    /// Starts `execution` on the warm parent of `warm.parent`. Nil when that parent cannot
    /// run jobs (it could not import what they need, or cannot start at all): the caller then
    /// runs the command cold, which gives the very error a user would see without a parent.
    func start(_ execution: Execution, _ warm: WarmStart) async throws -> WarmJob? {
        // One retry: a parent that died between jobs (killed, crashed) is replaced at once.
        for attempt in 0..<2 {
            let parent: WarmParent
            do {
                guard let found = try self.parent(for: warm.parent, idleTimeout: warm.idleTimeout) else { return nil }
                parent = found
            } catch {
                logger.warning(
                    "cannot start a warm parent; the job runs cold",
                    metadata: ["kind": "\(warm.parent.label)", "error": "\(error)"])
                markCold(warm.parent, for: warm.idleTimeout)
                return nil
            }
            guard await ready(parent) != nil else {
                // Unusable: the next lookup answers nil (cold). Died: one more parent, then cold.
                if attempt == 0 { continue }
                markCold(warm.parent, for: warm.idleTimeout)
                return nil
            }
            let job: WarmJob
            do {
                job = try parent.submit(execution, arguments: warm.arguments)
            } catch {
                continue
            }
            let watchdog = Deadlines.shared.schedule(at: .now.advanced(by: Self.startLimit)) { [parent, job] in
                if !job.hasEnded { parent.stop(reason: "it did not fork a job within \(Self.startLimit)", kill: true) }
            }
            let start = await job.started()
            Deadlines.shared.cancel(watchdog)
            switch start {
            case .started:
                return job
            case .failed(let reason):
                if job.hasEnded, attempt == 0, parent.isDead { continue }
                throw WarmParentError(key: warm.parent, reason: reason)
            }
        }
        throw WarmParentError(key: warm.parent, reason: "its parent died twice in a row")
    }

    /// Waits for the parent's imports; nil when it is unusable (then stopped) or died.
    private func ready(_ parent: WarmParent) async -> Int? {
        let watchdog = Deadlines.shared.schedule(at: .now.advanced(by: Self.readyLimit)) { [parent] in
            if parent.snapshot.ready == false { parent.stop(reason: "not ready within \(Self.readyLimit)", kill: true) }
        }
        defer { Deadlines.shared.cancel(watchdog) }
        switch await parent.readiness() {
        case .ready(let threads):
            return threads
        case .unusable(let problem):
            logger.warning(
                "the warm parent cannot prepare jobs; they run cold",
                metadata: ["kind": "\(parent.key.label)", "problem": "\(problem)"])
            parent.stop(reason: "unusable: \(problem)")
            markCold(parent.key, for: parent.idleTimeout)
            return nil
        case .dead(let reason):
            logger.warning(
                "warm parent died before it was ready",
                metadata: ["kind": "\(parent.key.label)", "reason": "\(reason)"])
            return nil
        }
    }

    private func markCold(_ key: WarmParentKey, for duration: Duration) {
        state.withLock { $0.coldUntil[key] = .now.advanced(by: duration) }
    }

    /// Stops every parent (their running jobs are killed). For tests and an orderly shutdown.
    package func stopAll() {
        let parents = state.withLock { state -> [WarmParent] in
            defer { state.parents = [:] }
            return Array(state.parents.values)
        }
        for parent in parents { parent.stop(reason: "stopped") }
    }

    /// The live parents, with their memory, for `GET /status`.
    package func status() -> [WarmParentStatus] {
        let parents = state.withLock { state in state.parents.values.filter { !$0.isDead } }
        return parents.map { parent in
            let snapshot = parent.snapshot
            let memory = ProcessMemory(pid: snapshot.pid)
            return WarmParentStatus(
                kind: parent.key.label, interpreter: parent.key.command.first ?? "", pid: snapshot.pid,
                ready: snapshot.ready, running: snapshot.running, jobsStarted: snapshot.jobsRun,
                residentBytes: memory?.resident, proportionalBytes: memory?.proportional)
        }.sorted { $0.pid < $1.pid }
    }
}

/// One warm parent as `GET /status` lists it.
package struct WarmParentStatus: Sendable, Hashable {
    package var kind: String
    package var interpreter: String
    package var pid: Int32
    package var ready: Bool
    package var running: Int
    package var jobsStarted: Int
    /// Its resident set (`VmRSS`); most of it is shared with the children it forks.
    package var residentBytes: Int64?
    /// Its proportional set size (`Pss`): its share of pages shared with its children.
    package var proportionalBytes: Int64?
}

/// A process's memory from /proc.
struct ProcessMemory {
    var resident: Int64?
    var proportional: Int64?

    init?(pid: Int32) {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        resident = Self.kilobytes("VmRSS:", in: status)
        proportional = (try? String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8)).flatMap {
            Self.kilobytes("Pss:", in: $0)
        }
    }

    private static func kilobytes(_ field: String, in text: String) -> Int64? {
        for line in text.split(separator: "\n") where line.hasPrefix(field) {
            let number = line.dropFirst(field.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap {
                Int64($0)
            }
            guard let number, number >= 0, number < Int64.max / 1024 else { return nil }
            return number * 1024
        }
        return nil
    }
}
