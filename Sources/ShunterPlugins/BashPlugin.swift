import Foundation
import ShunterBackends
import ShunterCore
import ShunterEnvironments
import ShunterHandlers
import ShunterStore

/// Runs `__language__: bash` transformations the way Seamless's `execute_bash.py` does.
///
/// prepare: a fresh work directory with one file per input pin (and an environment variable
/// for short scalar pins), `transform.sh` for humans, and the command
/// `bash -c "set -u -e; <code>"`. collect: the exit status and `RESULT` (a file, or a
/// directory read as a dict of files) become the result buffer or Seamless's error text.
///
/// The environment is NOT the broker's whole environment (Seamless passes its worker's):
/// only the variables named in `bash.pass_environment` are copied from the broker, then the
/// pin variables are added (a pin named like a passed variable wins, as in Seamless).
package struct BashPlugin: JobPlugin {
    package static let defaultPassedEnvironment = [
        "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR",
    ]

    package static let descriptor = JobPluginDescriptor(
        component: ComponentCatalog.Component(
            name: "bash",
            summary:
                "runs bash transformations as Seamless does: one file (and variable) per pin, RESULT as the result",
            compatibleBackends: ["local", "slurm"],
            optionSection: "bash",
            optionKeys: [
                "shell": "path of the bash executable (default /bin/bash)",
                "pass_environment": "list of variable names copied from the broker's environment into the job's "
                    + "(default: \(defaultPassedEnvironment.joined(separator: " ")))",
                "conda_root": "conda installation whose etc/profile.d/conda.sh activates a job's conda_environment "
                    + "(default: $CONDA_ROOT of the broker)",
            ],
            languages: ["bash"]
        ),
        build: { handler in try BashPlugin(handler: handler) }
    )

    /// The shell; Seamless runs `/bin/bash`, whose name appears in its error messages
    /// (`/bin/bash: line 3: x: unbound variable`).
    package var shell: String
    /// What every job inherits (before pin variables are added).
    package var inheritedEnvironment: [String: String]
    package var condaRoot: String?

    package init(shell: String = "/bin/bash", inheritedEnvironment: [String: String], condaRoot: String? = nil) {
        self.shell = shell
        self.inheritedEnvironment = inheritedEnvironment
        self.condaRoot = condaRoot
    }

    /// Reads the handler's `bash:` section.
    package init(handler: HandlerConfig, brokerEnvironment: [String: String] = ProcessInfo.processInfo.environment)
        throws
    {
        let options = try OptionReader(
            section: "bash", of: handler, accepted: Self.descriptor.component.optionKeys.keys)
        let shell = try options.string("shell") ?? "/bin/bash"
        let names = try options.stringList("pass_environment") ?? Self.defaultPassedEnvironment
        var inherited: [String: String] = [:]
        for name in names {
            if let value = brokerEnvironment[name] { inherited[name] = value }
        }
        let condaRoot = try options.string("conda_root") ?? brokerEnvironment["CONDA_ROOT"]
        self.init(shell: shell, inheritedEnvironment: inherited, condaRoot: condaRoot)
    }

    package func prepare(_ job: JobContext) async throws -> PreparedJob {
        let transformation = job.transformation
        let code = try await Self.code(of: job)
        let renames = (transformation.dict["__as__"] ?? transformation.dunder["__as__"])?.objectValue ?? [:]
        let formats = (transformation.dict["__format__"] ?? transformation.dunder["__format__"])?.objectValue ?? [:]

        var condaEnvironment: String?
        var ready: ReadyEnvironment?
        switch try await JobEnvironment.resolve(job) {
        case .none: break
        case .ready(let environment): ready = environment
        case .undefined(let name):
            // Not one of Shunter's: Seamless's own way, `conda activate` from an installation.
            guard condaRoot != nil else {
                throw JobEnvironment.unknown(
                    name, job: job,
                    hint: "to activate environments of an existing conda "
                        + "installation, set bash.conda_root in handler '\(job.handler.name)' or CONDA_ROOT for the broker"
                )
            }
            condaEnvironment = name
        }

        // Every file of the job is written here, so an earlier job's files of the same names
        // are overwritten in place rather than moved out and back in.
        let directory = try WorkDirectory.create(
            root: job.workRoot, transformation: transformation.checksum, jobID: job.jobID, reusingFiles: true)
        do {
            var environment = ready?.activated(inheritedEnvironment) ?? inheritedEnvironment
            for name in transformation.pins.keys.sorted() where name != "code" {
                let pin = transformation.pins[name]!
                if pin.celltype == "plain" && pin.subcelltype == "module" { continue }
                let target = renames[name]?.stringValue ?? name
                if target == "pins_" || target == "bashcode" { continue }
                // Before either way of writing it: a directory pin is written by another function.
                try Self.checkPathName(target, pin: name)
                // Seamless looks the format up by the name the pin is written as.
                if BashDirectoryPin.isDirectory(target, formats: formats) {
                    try directory.evictLeftover(at: target)
                    environment[target] = try await BashDirectoryPin.materialize(
                        pin, as: target, in: directory, buffers: job.buffers)
                } else if let value = try await Self.materialize(pin, as: target, in: directory, buffers: job.buffers) {
                    environment[target] = value
                }
            }
            let command = BashJobScript.command(
                code: code, condaEnvironment: condaEnvironment, condaRoot: condaRoot, activation: ready?.activationLine)
            let script = BashJobScript.transformScript(
                command: command, environment: environment, inherited: inheritedEnvironment)
            let scriptPath = directory.workPath + "/transform.sh"
            try directory.write(Array(script.utf8), to: scriptPath, mode: 0o755)
            try directory.evictLeftovers()

            // transform.sh keeps Seamless's text; only the command run records its exit status.
            let executed =
                job.recordsExitStatus
                ? BashJobScript.withExitStatusMarker(command, path: directory.exitStatusPath, jobID: job.jobID)
                : command
            let execution = try PreparedExecutionRecord.prepare(
                job, directory: directory, command: [shell, "-c", executed], environment: environment)
            return PreparedJob(execution: execution, workDirectory: directory.path, environment: ready)
        } catch {
            // The broker never hears of a directory whose job could not be prepared.
            try? directory.remove()
            throw error
        }
    }

    package func collect(_ job: JobContext, prepared: PreparedJob, outcome: ExecutionOutcome) async throws -> [UInt8] {
        switch try await collected(job, prepared: prepared, outcome: outcome) {
        case .buffer(let buffer):
            return buffer
        case .file(let file):
            let limit = job.maxResultBytes
            return try await BlockingIO.run { try BashResult.bytes(of: file, shownAs: "RESULT", limit: limit) }
        }
    }

    package func storeResult(_ job: JobContext, prepared: PreparedJob, outcome: ExecutionOutcome) async throws
        -> Checksum
    {
        switch try await collected(job, prepared: prepared, outcome: outcome) {
        case .buffer(let buffer):
            return try await job.buffers.put(buffer, expected: nil)
        case .file(let file):
            let (fd, size) = try ContainedPath.openRegularFile(file, shownAs: "RESULT")
            defer { close(fd) }
            guard size <= job.maxResultBytes else {
                throw BashResult.tooLarge("RESULT", size: size, limit: job.maxResultBytes)
            }
            do {
                return try await job.buffers.put(contentsOf: fd, limit: job.maxResultBytes)
            } catch BufferStoreError.tooLarge {
                // It grew while it was copied.
                throw BashResult.tooLarge("RESULT", size: nil, limit: job.maxResultBytes)
            }
        }
    }

    /// A result ready to store: a buffer, or a file whose bytes are the buffer as they are.
    enum Collected {
        case buffer([UInt8])
        case file(ContainedPath.Resolved)
    }

    func collected(_ job: JobContext, prepared: PreparedJob, outcome: ExecutionOutcome) async throws -> Collected {
        let directory = WorkDirectory(path: prepared.workDirectory)
        // Read only on failure: a successful job's code and output are never loaded.
        func stdout() -> String { BashErrorText.echoedStdout(Self.readForErrorText(directory.stdoutPath)) }

        func failure(_ kind: JobFailure.Kind, _ error: String, withStderr: Bool) async throws -> JobFailure {
            var text = BashErrorText.exception(error, command: try await Self.code(of: job))
            text += BashErrorText.section("Standard output", stdout())
            if withStderr {
                text += BashErrorText.section(
                    "Standard error", BashErrorText.decodeReplacing(Self.readForErrorText(directory.stderrPath)))
            }
            return JobFailure(kind, text)
        }

        switch outcome.termination {
        case .exited(0):
            break
        case .exited(let code):
            throw try await failure(.nonZeroExit, "Return code \(code)", withStderr: true)
        case .signaled(let signal):
            // Python's Popen.returncode for a process killed by a signal.
            throw try await failure(.signaled, "Return code -\(signal)", withStderr: true)
        case .timedOut(let limit):
            throw try await failure(
                .timedOut, "Timeout: the job ran longer than \(limit) (the handler's limits.timeout) and was stopped",
                withStderr: true)
        }

        // What the job wrote is read only inside its work directory: a container job's
        // `RESULT` could otherwise be a link to any file of the host (`ContainedPath`).
        let contained = try ContainedPath(root: directory.workPath)
        // Seamless's `os.path.exists`: a link to nothing is no result either.
        guard let result = try contained.resolve("RESULT", shownAs: "RESULT") else {
            throw try await failure(.missingResult, "Result file/folder RESULT does not exist", withStderr: false)
        }
        let celltype = job.transformation.output.celltype
        if !result.isDirectory && celltype == .bytes {
            // The file is the buffer: it goes to the store as it is, never whole in memory.
            return .file(result)
        }
        // Other results are converted whole: the size is checked before anything is read, and
        // the reading runs off the event loops.
        let limit = job.maxResultBytes
        do {
            if result.isDirectory {
                let files = try await BlockingIO.run { try BashResult.files(inDirectory: result, within: contained) }
                if files.isEmpty {
                    throw try await failure(.missingResult, "Result folder RESULT is empty", withStderr: false)
                }
                return .buffer(
                    try await BlockingIO.run {
                        try BashResult.buffer(fromDirectoryFiles: files, celltype: celltype, limit: limit)
                    })
            }
            return .buffer(
                try await BlockingIO.run { try BashResult.buffer(fromFile: result, celltype: celltype, limit: limit) })
        } catch let error as JobFailure {
            throw error
        } catch {
            var text = "cannot convert RESULT to the output celltype '\(celltype.rawValue)': \(error)\n"
            text += BashErrorText.section("Standard output", stdout())
            throw JobFailure(.badResult, text)
        }
    }

    // MARK: - Pins

    /// The code, as Seamless reads it (`buffer.get_value(celltype or "text")`: trailing
    /// newlines stripped).
    static func code(of job: JobContext) async throws -> String {
        guard let pin = job.transformation.pins["code"] else {
            throw JobFailure(.badInput, "the bash transformation has no 'code' pin")
        }
        let celltype = try celltype(of: pin, name: "code", default: .text)
        guard let buffer = try await job.buffers.get(pin.checksum) else {
            throw JobFailure(.badInput, "pin 'code': buffer \(pin.checksum) is not in the buffer store")
        }
        do {
            guard case .string(let text) = try CelltypeCodec.deserialize(buffer, as: celltype) else {
                throw JobFailure(
                    .badInput, "pin 'code': a \(celltype.rawValue) buffer that is not text cannot be bash code")
            }
            return text
        } catch let error as CelltypeCodecError {
            throw JobFailure(.badInput, "pin 'code': \(error)")
        }
    }

    /// Writes one pin into the work directory; returns its environment variable, if any.
    static func materialize(
        _ pin: Transformation.Pin, as name: String, in directory: WorkDirectory, buffers: any BufferStore
    ) async throws -> String? {
        try checkPathName(name, pin: name)
        if name.contains("=") {
            throw JobFailure(.badInput, "Pin '\(name)': illegal environment variable name")
        }
        let celltype = try celltype(of: pin, name: name, default: .mixed)
        let path = directory.workPath + "/" + name
        if name.contains("/") || celltype == .bytes {
            // Neither is written in place by `directory.write`.
            try directory.evictLeftover(at: name)
        }
        if name.contains("/") {
            let parent = String(path[..<path.lastIndex(of: "/")!])
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        }
        if celltype == .bytes {
            // A bytes pin's file is its buffer as is: copy it without loading it.
            do {
                try await buffers.materialize(pin.checksum, to: path)
            } catch BufferStoreError.notFound {
                throw JobFailure(.badInput, "pin '\(name)': buffer \(pin.checksum) is not in the buffer store")
            }
            return nil
        }
        guard let buffer = try await buffers.get(pin.checksum) else {
            throw JobFailure(.badInput, "pin '\(name)': buffer \(pin.checksum) is not in the buffer store")
        }
        let materialization: BashPinMaterialization
        do {
            materialization = try CelltypeCodec.bashPin(name: name, buffer: buffer, celltype: celltype)
        } catch {
            throw JobFailure(.badInput, "\(error)")
        }
        try directory.write(materialization.fileContents, to: path)
        return materialization.environmentValue
    }

    /// Refuses a name that cannot be a file in the work directory (`WorkPathName`); `pin` is
    /// the pin's own name when `__as__` renamed it.
    static func checkPathName(_ name: String, pin: String) throws {
        guard let problem = WorkPathName.problem(with: name) else { return }
        switch problem {
        // Seamless's own texts for the two it refuses (`execute_bash.write_bash_job`).
        case .absolute: throw JobFailure(.badInput, "Pin \(name): Absolute path is not allowed")
        case .parentDirectory: throw JobFailure(.badInput, "Pin \(name): .. is not allowed")
        default:
            let what = name == pin ? "pin '\(pin)'" : "pin '\(pin)' (written as '\(name)' by __as__)"
            throw JobFailure(.badInput, "\(what) cannot be a file in the job's directory: \(problem)")
        }
    }

    static func celltype(of pin: Transformation.Pin, name: String, default fallback: Celltype) throws -> Celltype {
        if pin.celltype.isEmpty { return fallback }
        if let celltype = Celltype(rawValue: pin.celltype) { return celltype }
        if ["deepcell", "deepfolder", "folder"].contains(pin.celltype) {
            throw JobFailure(
                .badInput, "pin '\(name)': celltype '\(pin.celltype)' (a deep pin) is not supported by the bash plugin")
        }
        throw JobFailure(
            .badInput,
            "pin '\(name)': unknown celltype '\(pin.celltype)'; expected one of: "
                + Celltype.allCases.map(\.rawValue).joined(separator: ", "))
    }

    // MARK: - Files

    /// Error texts carry the job's output as Seamless's do, but at most this much of each
    /// stream, so that a job printing gigabytes cannot blow up the broker's memory.
    static let errorTextOutputLimit = 16 << 20

    static func readForErrorText(_ path: String) -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: errorTextOutputLimit + 1)) ?? Data()
        guard data.count > errorTextOutputLimit else { return [UInt8](data) }
        return [UInt8](data.prefix(errorTextOutputLimit))
            + Array("\n[output cut at \(errorTextOutputLimit) bytes; all of it is in \(path)]\n".utf8)
    }
}
