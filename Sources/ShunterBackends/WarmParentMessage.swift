import Foundation

/// One line a warm parent writes on its control socket (JSON), decoded.
///
/// The protocol, one JSON object per line each way:
/// - parent: `{"ready": PID, "threads": N, "problem": TEXT|null}` once, when it has imported
///   what jobs need (`problem`: why it could not; its jobs then run cold);
/// - broker: `{"run": ID, "argv": [...], "cwd": DIR, "env": {...}, "stdout": PATH, "stderr": PATH}`;
///   parent: `{"started": ID, "pid": PID}` once it has handed the job to a child that leads its
///   own session and process group (the child takes the job's files, directory and environment
///   next), or `{"failed": ID, "pid": PID|absent, "error": TEXT}` (no pid: no child got the job,
///   no `ended` follows); and later `{"ended": ID, "pid": PID, "status": WAITSTATUS}` once it has
///   reaped the child, with `"error": TEXT` when the child could not take the job's files,
///   directory or environment (it then ran nothing of the job);
/// - broker: `{"kill": ID, "signal": N}`: the parent signals the job's process group, only
///   while it has not reaped the child (so never a reused pid);
/// - broker: `{"ping": N}`; parent: `{"pong": N, "jobs": N}`.
/// The parent exits (killing the jobs it still runs) when the socket reaches end of file: the
/// broker closed it, or died.
enum WarmParentMessage: Sendable, Equatable {
    case ready(pid: Int32, threads: Int, problem: String?)
    case started(job: Int, pid: Int32)
    case failed(job: Int, pid: Int32?, error: String)
    case ended(job: Int, pid: Int32, status: Int32, setupError: String? = nil)
    case pong(Int)

    private struct Fields: Decodable {
        var ready: Int32?
        var threads: Int?
        var problem: String?
        var started: Int?
        var failed: Int?
        var ended: Int?
        var pid: Int32?
        var error: String?
        var status: Int32?
        var pong: Int?
    }

    /// Nil for a line that is none of these (the parent's protocol is broken: callers treat
    /// it as a dead parent).
    init?(line: some Collection<UInt8>) {
        guard let fields = try? JSONDecoder().decode(Fields.self, from: Data(line)) else { return nil }
        if let pid = fields.ready {
            self = .ready(pid: pid, threads: fields.threads ?? 0, problem: fields.problem)
        } else if let job = fields.started, let pid = fields.pid {
            self = .started(job: job, pid: pid)
        } else if let job = fields.failed {
            self = .failed(job: job, pid: fields.pid, error: fields.error ?? "unknown error")
        } else if let job = fields.ended, let pid = fields.pid, let status = fields.status {
            self = .ended(job: job, pid: pid, status: status, setupError: fields.error)
        } else if let ping = fields.pong {
            self = .pong(ping)
        } else {
            return nil
        }
    }

    /// The broker's request to start a job.
    static func run(
        job: Int, arguments: [String], directory: String, environment: [String: String], stdout: String, stderr: String
    ) -> [UInt8] {
        encode([
            "run": job, "argv": arguments, "cwd": directory, "env": environment, "stdout": stdout, "stderr": stderr,
        ])
    }

    static func kill(job: Int, signal: Int32) -> [UInt8] { encode(["kill": job, "signal": Int(signal)]) }

    private static func encode(_ object: [String: Any]) -> [UInt8] {
        // Only strings, integers, arrays and dictionaries of them: serialization cannot fail.
        var bytes = [UInt8](
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8))
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }
}
