import Foundation
import Logging
import ShunterBackends
import ShunterCore
import ShunterHandlers
import ShunterPlugins
import ShunterStore

/// The repository checkout (Tests/ShunterPluginsTests/ -> ../..).
let pluginsRepositoryRoot: String = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

struct PythonTestSetupError: Error, CustomStringConvertible {
    var description: String
}

/// The Python of the Seamless venv (`scripts/setup-seamless-venv.sh`); the python plugin's
/// tests need it both as the reference and as the plugin's interpreter.
func seamlessPython() throws -> String {
    let path = pluginsRepositoryRoot + "/" + PythonInterpreter.venvRelativePath
    guard FileManager.default.isExecutableFile(atPath: path) else {
        throw PythonTestSetupError(
            description:
                "\(path) is missing: the python plugin runs transformations with the real Seamless; run: bash scripts/setup-seamless-venv.sh"
        )
    }
    return path
}

/// Runs Python transformations the way the broker does: PythonPlugin.prepare,
/// LocalBackend.run, PythonPlugin.collect, with real processes and a real buffer store.
struct PythonJobHarness {
    let root: TemporaryDirectory
    let buffers: any BufferStore
    var plugin: PythonPlugin
    let backend = LocalBackend(killGrace: .milliseconds(500))

    init(interpreter: String? = nil) throws {
        root = try TemporaryDirectory()
        buffers = MemoryBufferStore()
        plugin = PythonPlugin(
            interpreter: try interpreter ?? seamlessPython(),
            inheritedEnvironment: ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"])
    }

    func context(_ transformation: Transformation, timeout: Duration? = nil, jobID: String = UUID().uuidString)
        -> JobContext
    {
        let handler = HandlerConfig(
            name: "python-test", plugin: "python", backend: "local", limits: HandlerLimits(maxJobs: 8, timeout: timeout)
        )
        return JobContext(
            jobID: jobID, transformation: transformation, environment: nil, handler: handler,
            buffers: buffers, workRoot: root.path, logger: Logger(label: "test"))
    }

    /// A transformation written by hand: `code` (a python pin) and int/mixed pins.
    func transformation(
        code: String, pins: [String: (celltype: String, buffer: [UInt8])] = [:], output: String = "mixed"
    ) async throws -> Transformation {
        let codeChecksum = try await buffers.put(Array((code + "\n").utf8), expected: nil)
        var dict: [String: JSONValue] = [
            "__language__": .string("python"),
            "__output__": .array([.string("result"), .string(output), .null]),
            "code": .array([.string("python"), .string("transformer"), .string(codeChecksum.hex)]),
        ]
        for (name, pin) in pins {
            let checksum = try await buffers.put(pin.buffer, expected: nil)
            dict[name] = .array([.string(pin.celltype), .null, .string(checksum.hex)])
        }
        return try Transformation.parse(dict: dict)
    }

    /// prepare → run → collect. Returns the result buffer or throws the JobFailure.
    func run(_ job: JobContext) async throws -> [UInt8] {
        let prepared = try await plugin.prepare(job)
        let outcome = try await backend.run(prepared.execution, events: ExecutionEvents())
        return try await plugin.collect(job, prepared: prepared, outcome: outcome)
    }

    func cleanUp() { root.cleanUp() }
}
