import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// One warm parent process (a fork server, see `WarmParentMessage` for its protocol) and the
/// jobs it forked.
///
/// The parent is a child of the broker in a session of its own; its standard output is one end
/// of a socket pair, the control channel. It never outlives the broker: when the broker dies
/// (`kill -9` included) the kernel closes the broker's end, the parent reads end of file, kills
/// the jobs it runs and exits; and each job child has `PR_SET_PDEATHSIG` set to its parent.
/// A dedicated thread reads the socket (blocking reads, so no Swift concurrency thread waits).
final class WarmParent: Sendable {
    let key: WarmParentKey
    let idleTimeout: Duration
    let process: ChildProcess
    private let control: Int32
    private let writeLock = Mutex(())
    private let state = Mutex(State())
    private let logger: Logger

    private struct State {
        /// nil until the parent says it is ready (or dies first).
        var ready: Readiness?
        var readyWaiters: [CheckedContinuation<Readiness, Never>] = []
        var nextJob = 0
        var jobs: [Int: WarmJob] = [:]
        var jobsRun = 0
        /// Bumped whenever the parent gets a job or becomes idle: an idle deadline of an
        /// older generation finds the parent busy, or idle since later, and leaves it.
        var idleGeneration = 0
        var closed = false
    }

    enum Readiness: Sendable {
        case ready(threads: Int)
        /// It runs, but could not import what jobs need: its jobs run cold (for the same error
        /// text as always).
        case unusable(String)
        case dead(String)
    }

    private init(key: WarmParentKey, idleTimeout: Duration, process: ChildProcess, control: Int32, logger: Logger) {
        self.key = key
        self.idleTimeout = idleTimeout
        self.process = process
        self.control = control
        self.logger = logger
    }

    /// Starts the parent process; it is ready once `readiness()` says so.
    static func launch(_ key: WarmParentKey, idleTimeout: Duration, logger: Logger) throws -> WarmParent {
        guard let program = key.command.first,
            let executable = ExecutableSearch.resolve(program, searchPath: key.environment["PATH"])
        else {
            throw WarmParentError(key: key, reason: "no executable '\(key.command.first ?? "")' in PATH")
        }
        var ends: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends) == 0 else {
            throw WarmParentError(key: key, reason: "socketpair: \(String(cString: strerror(errno)))")
        }
        // The parent's standard error is the broker's (what it prints is about the parent, not a
        // job). The spawn wants descriptors above 2.
        let errors = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3)
        defer {
            close(ends[1])
            if errors >= 0 { close(errors) }
        }
        let variables = key.environment.compactMap { name, value -> String? in
            guard !name.isEmpty, !name.contains("="), !name.contains("\0"), !value.contains("\0") else { return nil }
            return "\(name)=\(value)"
        }
        let process: ChildProcess
        do {
            process = try ChildProcess.spawnInNewSession(
                executable: executable, arguments: Array(key.command.dropFirst()), environment: variables,
                directory: "/", stdout: ends[1], stderr: errors >= 0 ? errors : ends[1])
        } catch {
            close(ends[0])
            throw WarmParentError(key: key, reason: "cannot start \(executable): \(error)")
        }
        let parent = WarmParent(key: key, idleTimeout: idleTimeout, process: process, control: ends[0], logger: logger)
        let reader = Thread { [parent] in parent.readUntilClosed() }
        reader.name = "shunter-warm-parent-\(process.pid)"
        reader.start()
        logger.info("warm parent starting", metadata: ["kind": "\(key.label)", "pid": "\(process.pid)"])
        return parent
    }

    /// Waits until the parent is ready, unusable or dead.
    func readiness() async -> Readiness {
        await withCheckedContinuation { continuation in
            let known = state.withLock { state -> Readiness? in
                if let ready = state.ready { return ready }
                state.readyWaiters.append(continuation)
                return nil
            }
            if let known { continuation.resume(returning: known) }
        }
    }

    var isDead: Bool {
        state.withLock { state in
            if case .dead = state.ready { return true }
            return state.closed
        }
    }

    struct Snapshot: Sendable {
        var pid: Int32
        var running: Int
        var jobsRun: Int
        var ready: Bool
    }

    var snapshot: Snapshot {
        state.withLock { state in
            var ready = false
            if case .ready = state.ready { ready = true }
            return Snapshot(pid: process.pid, running: state.jobs.count, jobsRun: state.jobsRun, ready: ready)
        }
    }

    /// Asks the parent to fork a child for `execution`. The returned job reports its pid once
    /// the child is set up, and its end.
    func submit(_ execution: Execution, arguments: [String]) throws -> WarmJob {
        let job = state.withLock { state -> WarmJob? in
            guard !state.closed else { return nil }
            state.nextJob += 1
            state.idleGeneration += 1
            let job = WarmJob(id: state.nextJob, parent: self)
            state.jobs[job.id] = job
            state.jobsRun += 1
            return job
        }
        guard let job else { throw WarmParentError(key: key, reason: "it has exited") }
        let request = WarmParentMessage.run(
            job: job.id, arguments: arguments, directory: execution.workDirectory, environment: execution.environment,
            stdout: execution.stdoutPath, stderr: execution.stderrPath)
        guard send(request) else {
            stop(reason: "its control socket is closed")
            throw WarmParentError(key: key, reason: "its control socket is closed")
        }
        return job
    }

    /// Asks the parent to signal the job's process group (it knows whether the child is reaped).
    @discardableResult
    func signal(_ job: WarmJob, _ signal: Int32) -> Bool {
        send(WarmParentMessage.kill(job: job.id, signal: signal))
    }

    /// Closes the control socket: the parent kills what it still runs and exits. For an idle
    /// parent, or one that stopped answering (then it is also killed).
    func stop(reason: String, kill: Bool = false) {
        let first = state.withLock { state -> Bool in
            defer { state.closed = true }
            return !state.closed
        }
        if first {
            logger.info(
                "warm parent stopping",
                metadata: ["kind": "\(key.label)", "pid": "\(process.pid)", "reason": "\(reason)"])
        }
        if kill { process.signal(SIGKILL) }
        // Wakes the reader, which then closes the descriptor (only it may: a closed number
        // could be reused while it still reads).
        shutdown(control, Int32(SHUT_RDWR))
    }

    private func send(_ bytes: [UInt8]) -> Bool {
        writeLock.withLock { _ in
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeBytes { raw in
                    Glibc.send(control, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                }
                if written < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += written
            }
            return true
        }
    }

    // MARK: - Reading the parent's messages

    private func readUntilClosed() {
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var reason = "it exited"
        reading: while true {
            let count = buffer.withUnsafeMutableBytes { read(control, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                // A parent that exits with a request unread resets the connection.
                if errno == ECONNRESET { break }
                reason = "reading its control socket failed: \(String(cString: strerror(errno)))"
                break
            }
            if count == 0 { break }
            pending.append(contentsOf: buffer[0..<count])
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = pending[..<newline]
                guard let message = WarmParentMessage(line: line) else {
                    reason =
                        "it wrote something that is not its protocol: \(String(decoding: line.prefix(200), as: UTF8.self))"
                    process.signal(SIGKILL)
                    break reading
                }
                pending.removeSubrange(...newline)
                handle(message)
            }
        }
        close(control)
        died(reason)
    }

    private func handle(_ message: WarmParentMessage) {
        switch message {
        case .ready(_, let threads, let problem):
            let readiness: Readiness = problem.map { .unusable($0) } ?? .ready(threads: threads)
            if threads > 1 {
                logger.warning(
                    "the warm parent has more than one thread after its imports: forking it is unsafe, its jobs run cold",
                    metadata: ["kind": "\(key.label)", "pid": "\(process.pid)", "threads": "\(threads)"])
            }
            setReadiness(threads > 1 ? .unusable("it has \(threads) threads") : readiness)
        case .started(let id, let pid):
            job(id)?.started(pid)
        case .failed(let id, let pid, let error):
            job(id)?.failedToStart(error)
            // A child that got the job still ends and is reaped, and its entry goes then; with
            // no child, nothing more comes for this job.
            if pid == nil, state.withLock({ $0.jobs.removeValue(forKey: id) }) != nil { becameIdleIfUnused() }
        case .ended(let id, _, let status, let setupError):
            guard let job = state.withLock({ $0.jobs.removeValue(forKey: id) }) else { return }
            job.ended(setupError.map { .setupFailed($0) } ?? .process(ChildTermination(waitStatus: status)))
            becameIdleIfUnused()
        case .pong:
            break
        }
    }

    private func job(_ id: Int) -> WarmJob? { state.withLock { $0.jobs[id] } }

    private func setReadiness(_ readiness: Readiness) {
        let waiters = state.withLock { state -> [CheckedContinuation<Readiness, Never>] in
            // A parent that dies after it was ready is dead from then on.
            var replaces = state.ready == nil
            if case .dead = readiness { replaces = true }
            if replaces { state.ready = readiness }
            defer { state.readyWaiters = [] }
            return state.readyWaiters
        }
        for waiter in waiters { waiter.resume(returning: readiness) }
    }

    private func died(_ reason: String) {
        let jobs = state.withLock { state -> [WarmJob] in
            state.closed = true
            defer { state.jobs = [:] }
            return Array(state.jobs.values)
        }
        setReadiness(.dead(reason))
        if !jobs.isEmpty {
            logger.warning(
                "warm parent gone while it ran jobs",
                metadata: ["kind": "\(key.label)", "pid": "\(process.pid)", "reason": "\(reason)"])
        }
        for job in jobs { job.ended(.parentDied(reason)) }
    }

    // MARK: - Idle time

    private func becameIdleIfUnused() {
        let generation = state.withLock { state -> Int? in
            guard state.jobs.isEmpty, !state.closed else { return nil }
            state.idleGeneration += 1
            return state.idleGeneration
        }
        guard let generation else { return }
        _ = Deadlines.shared.schedule(at: .now.advanced(by: idleTimeout)) { [self] in
            let idle = state.withLock { $0.idleGeneration == generation && $0.jobs.isEmpty }
            if idle { stop(reason: "idle for \(idleTimeout)") }
        }
    }

    /// For a parent that was started before any job (at broker start) or whose start-up just
    /// ended: it also goes once idle for `idleTimeout`.
    func startIdleClock() { becameIdleIfUnused() }
}

/// A warm parent could not run a job.
struct WarmParentError: Error, CustomStringConvertible {
    var key: WarmParentKey
    var reason: String

    var description: String {
        "the warm \(key.label) interpreter (\(key.command.first ?? "")) could not run the job: \(reason)"
    }
}
