import Foundation
import ShunterBackends
import ShunterCore
import ShunterEnvironments
import ShunterHandlers
import ShunterStore

/// Runs `__language__: python` transformations with Seamless's own code.
///
/// Python semantics are Seamless's code, not a format: pins become globals, a code that is one
/// `def` is called with the pins as keyword arguments, a lambda or an expression is evaluated,
/// `__output__`'s variable is the result, modules and `globals` are built from `plain`/`module`
/// pins, and the result is serialized for the output celltype by `seamless.Buffer`. So the
/// plugin does not re-implement any of it: `prepare` writes the transformation and its input
/// buffers into the job directory, and an embedded runner (`PythonRunnerScript`), executed by
/// an interpreter that has `seamless-suite`, hands them to
/// `seamless_transformer.worker._execute_transformation_request`, the very function a
/// Seamless jobserver worker calls. `collect` reads the result buffer it wrote, or the error
/// text the Python jobserver would have answered.
///
/// Job directory (besides `WorkDirectory`'s `work/`, `stdout`, `stderr`):
/// ```
/// python/transformation.json   {"transformation_dict", "tf_checksum", "tf_dunder"}
/// python/buffers/<checksum>    every input buffer (pins, code, __env__)
/// python/runner.py             the runner
/// python/result | python/error what the runner produced
/// ```
package struct PythonPlugin: JobPlugin {
    package static let descriptor = JobPluginDescriptor(
        component: ComponentCatalog.Component(
            name: "python",
            summary: "runs Python transformations with Seamless's own code in an interpreter that has seamless-suite",
            compatibleBackends: ["local", "slurm"],
            optionSection: "python",
            optionKeys: [
                "interpreter": "the Python that runs jobs; it must have seamless-suite (default: $SHUNTER_PYTHON, else "
                    + ".venv-seamless/bin/python in the handler file's directory or above, else python3 on PATH)",
                "pass_environment": "list of variable names copied from the broker's environment into the job's "
                    + "(default: \(BashPlugin.defaultPassedEnvironment.joined(separator: " ")))",
                "warm": "true (default): with the local backend, each job is a child forked from a warm interpreter "
                    + "that has already imported Seamless (one per interpreter and environment); false: every job "
                    + "starts its own interpreter",
                "warm_start": "first-job (default): a warm interpreter starts with the first job that needs it; "
                    + "broker-start: the handler's own interpreter also starts with the broker",
                "warm_idle_timeout": "how long a warm interpreter with no job stays up (default 10m)",
            ],
            languages: ["python"]
        ),
        build: { handler in try PythonPlugin(handler: handler) },
        start: { plugin, handler in
            guard let plugin = plugin as? PythonPlugin else { return }
            PythonInterpreter.warnIfUnusable(
                interpreter: plugin.interpreter, environment: plugin.inheritedEnvironment, handler: handler.name)
            if let warm = plugin.warm, warm.startsWithBroker, handler.backend == "local" {
                WarmParents.shared.prestart(
                    plugin.warmParentKey(
                        interpreter: plugin.interpreter, environment: plugin.inheritedEnvironment, label: "python"),
                    idleTimeout: warm.idleTimeout)
            }
        }
    )

    /// The interpreter: a path, or a name looked up in the job's `PATH`.
    package var interpreter: String
    /// The job's whole environment (Seamless would give it the client's).
    package var inheritedEnvironment: [String: String]
    /// How jobs run on the local backend: forked from a warm interpreter, or (nil) cold.
    package var warm: WarmPythonSettings?

    package init(
        interpreter: String, inheritedEnvironment: [String: String], warm: WarmPythonSettings? = WarmPythonSettings()
    ) {
        self.interpreter = interpreter
        self.inheritedEnvironment = inheritedEnvironment
        self.warm = warm
    }

    /// Reads the handler's `python:` section.
    package init(handler: HandlerConfig, brokerEnvironment: [String: String] = ProcessInfo.processInfo.environment)
        throws
    {
        let options = try OptionReader(
            section: "python", of: handler, accepted: Self.descriptor.component.optionKeys.keys)
        let handlerFile = handler.source.file
        let interpreter: String
        if let written = try options.string("interpreter") {
            interpreter = PythonInterpreter.resolve(written, handlerFile: handlerFile)
        } else {
            interpreter = PythonInterpreter.defaultPath(handlerFile: handlerFile, environment: brokerEnvironment)
        }
        let names = try options.stringList("pass_environment") ?? BashPlugin.defaultPassedEnvironment
        var inherited: [String: String] = [:]
        for name in names {
            if let value = brokerEnvironment[name] { inherited[name] = value }
        }
        self.init(interpreter: interpreter, inheritedEnvironment: inherited, warm: try WarmPythonSettings(options))
    }

    package func prepare(_ job: JobContext) async throws -> PreparedJob {
        let transformation = job.transformation
        try Self.refuseUnsupported(transformation)
        var interpreter = self.interpreter
        var environment = inheritedEnvironment
        var ready: ReadyEnvironment?
        var label = "python"
        switch try await JobEnvironment.resolve(job) {
        case .none: break
        case .undefined(let name):
            throw JobEnvironment.unknown(name, job: job, hint: "define it there to run Python transformations in it")
        case .ready(let built):
            ready = built
            label = "python in conda environment '\(built.label)'"
            interpreter = built.python
            environment = built.activated(inheritedEnvironment)
            if let seamless = await SeamlessSitePackages.shared.find(
                interpreter: self.interpreter, environment: inheritedEnvironment)
            {
                environment.merge(seamless.variables) { $1 }
            }
        }

        let directory = try WorkDirectory.create(
            root: job.workRoot, transformation: transformation.checksum, jobID: job.jobID)
        do {
            let files = PythonJobFiles(jobDirectory: directory.path)
            try FileManager.default.createDirectory(atPath: files.buffers, withIntermediateDirectories: true)
            try await Self.materializeInputs(of: transformation, into: files, buffers: job.buffers)
            try WorkDirectory.writeFile(CanonicalJSON.encode(Self.request(for: transformation)), to: files.request)
            try WorkDirectory.writeFile(Array(PythonRunnerScript.source.utf8), to: files.runner)
            var execution = try PreparedExecutionRecord.prepare(
                job, directory: directory, command: [interpreter, files.runner, files.path], environment: environment)
            if let warm, job.handler.backend == "local" {
                // The cold command stays what is recorded and what a human re-runs.
                execution.warmStart = WarmStart(
                    parent: warmParentKey(interpreter: interpreter, environment: environment, label: label),
                    arguments: [files.runner, files.path], idleTimeout: warm.idleTimeout)
            }
            return PreparedJob(execution: execution, workDirectory: directory.path, environment: ready)
        } catch {
            try? directory.remove()
            throw error
        }
    }

    /// A Slurm job that outlived a broker restart: what `prepare` recorded, read back.
    package func reattach(_ job: JobContext, workDirectory: String) async throws -> PreparedJob {
        try await PreparedExecutionRecord.reattach(job, workDirectory: workDirectory)
    }

    package func collect(_ job: JobContext, prepared: PreparedJob, outcome: ExecutionOutcome) async throws -> [UInt8] {
        let directory = WorkDirectory(path: prepared.workDirectory)
        let files = PythonJobFiles(jobDirectory: directory.path)
        func runnerOutput() -> String {
            var text = ""
            for (title, path) in [("Standard output", directory.stdoutPath), ("Standard error", directory.stderrPath)] {
                let content = String(decoding: BashPlugin.readForErrorText(path), as: UTF8.self)
                    .trimmingCharacters(in: .newlines)
                if !content.isEmpty { text += BashErrorText.section(title, content) }
            }
            return text
        }

        switch outcome.termination {
        case .exited(0):
            // The runner's result buffer is read whole (it is the buffer, already converted to
            // its celltype): its size is checked first.
            // stat, not FileManager's attributes, which look up the owner's and group's names
            // (reading /etc/passwd and /etc/group) for every job.
            var info = stat()
            if stat(files.result, &info) == 0, Int(info.st_size) > job.maxResultBytes {
                throw BashResult.tooLarge("the result", size: Int(info.st_size), limit: job.maxResultBytes)
            }
            guard let data = FileManager.default.contents(atPath: files.result) else {
                throw JobFailure(
                    .internalError,
                    "Shunter's Python runner exited 0 without writing \(files.result)\n" + runnerOutput())
            }
            return [UInt8](data)
        case .exited(let code) where code == PythonJobFiles.transformationFailed || code == PythonJobFiles.runnerFailed:
            guard let data = FileManager.default.contents(atPath: files.error) else { break }
            // The text Seamless's jobserver answers for this failure, byte for byte.
            throw JobFailure(.nonZeroExit, String(decoding: data, as: UTF8.self))
        case .exited(PythonJobFiles.seamlessMissing):
            let reason =
                FileManager.default.contents(atPath: files.error).map { String(decoding: $0, as: UTF8.self) } ?? ""
            if let environment = prepared.environment {
                throw JobFailure(
                    .environmentUnavailable,
                    reason + "(the job ran in conda environment '\(environment.label)' at \(environment.prefix))\n")
            }
            throw JobFailure(
                .internalError,
                reason
                    + "Set python.interpreter in handler '\(job.handler.name)', or $SHUNTER_PYTHON, to a Python with seamless-suite installed (bash scripts/setup-seamless-venv.sh creates one).\n"
            )
        case .exited:
            break
        case .signaled(let signal):
            throw JobFailure(.signaled, "Shunter's Python runner was killed by signal \(signal)\n" + runnerOutput())
        case .timedOut(let limit):
            throw JobFailure(
                .timedOut,
                "Timeout: the job ran longer than \(limit) (the handler's limits.timeout) and was stopped\n"
                    + runnerOutput())
        }
        throw JobFailure(
            .internalError,
            "Shunter's Python runner (\(prepared.execution.command.first ?? interpreter)) failed (\(PythonInterpreter.describe(outcome.termination))) before it could report\n"
                + runnerOutput())
    }

    /// The warm interpreter for jobs run by `interpreter` with `environment`: it runs the fork
    /// server, with the runner's source to import what the runner imports.
    func warmParentKey(interpreter: String, environment: [String: String], label: String) -> WarmParentKey {
        WarmParentKey(
            label: label, command: [interpreter, "-c", PythonForkServerScript.source, PythonRunnerScript.source],
            environment: environment)
    }

    // MARK: - The job's files

    /// What the runner reads: the transformation dict as the client sent it (the orthogonal
    /// dunders back in it, as the client puts them in both places) and the request's tf_dunder.
    static func request(for transformation: Transformation) -> JSONValue {
        var dict = transformation.dict
        for (key, value) in transformation.dunder where !TransformationDunder.derived.contains(key) {
            dict[key] = value
        }
        return .object([
            "transformation_dict": .object(dict),
            "tf_checksum": .string(transformation.checksum.hex),
            "tf_dunder": .object(transformation.dunder),
        ])
    }

    /// Every buffer Seamless resolves while running the transformation: each pin's (code and
    /// module pins included), and, when the store has them, the code's syntactic checksum
    /// (`__code_checksum__`, which Seamless prefers for the code) and the `__env__` buffer.
    static func materializeInputs(
        of transformation: Transformation, into files: PythonJobFiles, buffers: any BufferStore
    ) async throws {
        var written: Set<Checksum> = []
        for name in transformation.pins.keys.sorted() {
            let checksum = transformation.pins[name]!.checksum
            guard written.insert(checksum).inserted else { continue }
            do {
                try await buffers.materialize(checksum, to: files.buffer(checksum))
            } catch BufferStoreError.notFound {
                throw JobFailure(.badInput, "pin '\(name)': buffer \(checksum) is not in the buffer store")
            }
        }
        var optional: [Checksum] = []
        if let hex = transformation.dunder["__code_checksum__"]?.stringValue, let checksum = try? Checksum(hex: hex) {
            optional.append(checksum)
        }
        if let checksum = transformation.environmentChecksum { optional.append(checksum) }
        for checksum in optional where written.insert(checksum).inserted {
            // Absent: Seamless falls back (the code pin, `__code_text__`) or fails with its own message.
            try? await buffers.materialize(checksum, to: files.buffer(checksum))
        }
    }

    /// What the runner cannot reproduce, refused before anything is written.
    static func refuseUnsupported(_ transformation: Transformation) throws {
        guard transformation.language == "python" else {
            throw JobFailure(
                .badInput,
                "the python plugin runs __language__ 'python' only; this transformation is '\(transformation.language)'"
            )
        }
        if transformation.dunder["__compiled__"].map({ $0.boolValue != false && !$0.isNull }) == true {
            throw JobFailure(
                .badInput, "compiled transformations (__compiled__) are not supported by the python plugin")
        }
        for (name, pin) in transformation.pins where ["deepcell", "deepfolder", "folder"].contains(pin.celltype) {
            throw JobFailure(
                .badInput,
                "pin '\(name)': celltype '\(pin.celltype)' (a deep pin) is not supported by the python plugin")
        }
        let formats = (transformation.dict["__format__"] ?? transformation.dunder["__format__"])?.objectValue ?? [:]
        for (pin, format) in formats where format["filesystem"] != nil {
            throw JobFailure(
                .badInput,
                "pin '\(pin)': __format__ filesystem (read-folder files and directories) is not supported by the python plugin"
            )
        }
    }
}

/// The runner's files inside a job directory, and its exit codes.
struct PythonJobFiles {
    /// The transformation raised (or had no result): `error` holds the jobserver's text.
    static let transformationFailed: Int32 = 1
    /// The runner got no result buffer from Seamless: `error` says so.
    static let runnerFailed: Int32 = 2
    /// The interpreter cannot import Seamless: `error` says why.
    static let seamlessMissing: Int32 = 3

    let path: String

    init(jobDirectory: String) { path = jobDirectory + "/python" }

    var request: String { path + "/transformation.json" }
    var buffers: String { path + "/buffers" }
    var runner: String { path + "/" + PythonRunnerScript.fileName }
    var result: String { path + "/result" }
    var error: String { path + "/error" }

    func buffer(_ checksum: Checksum) -> String { buffers + "/" + checksum.hex }
}
