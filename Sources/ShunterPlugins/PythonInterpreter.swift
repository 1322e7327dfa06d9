import Foundation
import Logging
import ShunterBackends

/// Which Python runs a handler's Python transformations, and whether it can.
///
/// The interpreter must have Seamless's own packages (`seamless-suite`): the runner executes
/// each transformation with Seamless's code, so that results are Seamless's bit for bit.
package enum PythonInterpreter {
    /// The virtual environment `scripts/setup-seamless-venv.sh` creates at the repository root.
    package static let venvRelativePath = ".venv-seamless/bin/python"

    /// The interpreter for a handler that sets no `python.interpreter`:
    /// 1. `$SHUNTER_PYTHON` of the broker;
    /// 2. `.venv-seamless/bin/python` in the directory of the handler file or in any directory
    ///    above it (the shipped layout puts handlers in `<root>/handlers/`, so this finds
    ///    `<root>/.venv-seamless`);
    /// 3. `python3`, looked up in the job's `PATH`.
    package static func defaultPath(handlerFile: String?, environment: [String: String]) -> String {
        if let chosen = environment["SHUNTER_PYTHON"], !chosen.isEmpty { return chosen }
        if let handlerFile, handlerFile.hasPrefix("/") {
            var directory = URL(fileURLWithPath: handlerFile).deletingLastPathComponent().standardizedFileURL
            while true {
                let candidate = directory.appendingPathComponent(venvRelativePath).path
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
                let parent = directory.deletingLastPathComponent().standardizedFileURL
                if parent.path == directory.path { break }
                directory = parent
            }
        }
        return "python3"
    }

    /// An interpreter written in a handler: a bare name is looked up in the job's `PATH`, a
    /// relative path is taken from the directory of the handler file (where the admin wrote it).
    package static func resolve(_ written: String, handlerFile: String?) -> String {
        guard written.contains("/"), !written.hasPrefix("/") else { return expandingHome(written) }
        if written.hasPrefix("~/") { return expandingHome(written) }
        guard let handlerFile, handlerFile.hasPrefix("/") else { return written }
        return URL(fileURLWithPath: handlerFile).deletingLastPathComponent()
            .appendingPathComponent(written).standardizedFileURL.path
    }

    private static func expandingHome(_ path: String) -> String {
        guard path.hasPrefix("~/") else { return path }
        return FileManager.default.homeDirectoryForCurrentUser.path + String(path.dropFirst(1))
    }

    /// Runs `<interpreter> -c "import seamless_transformer.worker"` (what the runner imports)
    /// and returns what is wrong, or nil when the interpreter can run Seamless transformations.
    package static func problem(
        interpreter: String, environment: [String: String], timeout: Duration = .seconds(120)
    ) async -> String? {
        do {
            let run = try await probe(
                interpreter, ["-c", "import seamless_transformer.worker"], environment: environment, timeout: timeout)
            if run.outcome.succeeded { return nil }
            let lastLine = run.stderr.split(separator: "\n").last.map(String.init) ?? "no error output"
            return "\(interpreter) cannot import Seamless (\(describe(run.outcome.termination))): \(lastLine)"
        } catch {
            return "\(interpreter) cannot be started: \(error)"
        }
    }

    /// Runs the interpreter once in a scratch directory (removed afterwards) and returns how it
    /// ended and what it printed.
    static func probe(
        _ interpreter: String, _ arguments: [String], environment: [String: String], timeout: Duration
    ) async throws -> (outcome: ExecutionOutcome, stdout: String, stderr: String) {
        let scratch = NSTemporaryDirectory() + "shunter-python-probe-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let execution = Execution(
            jobID: "python-probe", handler: "python-probe", workDirectory: scratch,
            command: [interpreter] + arguments, environment: environment,
            timeout: timeout, stdoutPath: scratch + "/stdout", stderrPath: scratch + "/stderr")
        let outcome = try await LocalBackend(killGrace: .seconds(1)).run(execution, events: ExecutionEvents())
        let stdout = (try? String(contentsOfFile: scratch + "/stdout", encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOfFile: scratch + "/stderr", encoding: .utf8)) ?? ""
        return (outcome, stdout, stderr)
    }

    static func describe(_ termination: ExecutionOutcome.Termination) -> String {
        switch termination {
        case .exited(let code): "exit code \(code)"
        case .signaled(let signal): "killed by signal \(signal)"
        case .timedOut(let limit): "still running after \(limit)"
        }
    }

    /// Logs a warning (once the probe is done, without holding up the caller) when a handler's
    /// interpreter cannot run Seamless: the broker still starts, its Python jobs would fail.
    static func warnIfUnusable(interpreter: String, environment: [String: String], handler: String) {
        Task.detached(priority: .utility) {
            guard let problem = await problem(interpreter: interpreter, environment: environment) else { return }
            Logger(label: "shunter.plugin.python").warning(
                "Python transformations of this handler will fail: \(problem). Set python.interpreter in the handler, or $SHUNTER_PYTHON, to a Python with seamless-suite installed (bash scripts/setup-seamless-venv.sh creates <root>/.venv-seamless).",
                metadata: ["handler": "\(handler)", "interpreter": "\(interpreter)"])
        }
    }
}
