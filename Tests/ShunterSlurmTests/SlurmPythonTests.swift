import Foundation
import Logging
import ShunterCore
import ShunterHandlers
import ShunterPlugins
import ShunterStore
import Testing

@testable import ShunterBackends

/// The generic (python) plugin on Slurm: the same prepare and collect as on the local backend,
/// the runner executed inside a batch job.
extension SlurmClusterTests {
    @Suite(.serialized) struct SlurmPythonTests {
        @Test func aPythonTransformationRunsInABatchJob() async throws {
            try await SlurmCluster.require()
            let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().path
            let python = repository + "/" + PythonInterpreter.venvRelativePath
            try #require(
                FileManager.default.isExecutableFile(atPath: python),
                "\(python) is missing: run scripts/setup-seamless-venv.sh (scripts/test.sh does)")
            try await withTestRoot { root in
                let buffers = MemoryBufferStore()
                let code = try await buffers.put(Array("result = a * 2\n".utf8), expected: nil)
                let a = try await buffers.put(try CelltypeCodec.serialize(.int(21), as: .int), expected: nil)
                let transformation = try Transformation.parse(dict: [
                    "__language__": .string("python"),
                    "__output__": .array([.string("result"), .string("int"), .null]),
                    "code": .array([.string("python"), .string("transformer"), .string(code.hex)]),
                    "a": .array([.string("int"), .null, .string(a.hex)]),
                ])
                let plugin = PythonPlugin(interpreter: python, inheritedEnvironment: ["PATH": "/usr/bin:/bin"])
                let job = JobContext(
                    jobID: "py-\(UUID().uuidString.prefix(8))", transformation: transformation, environment: nil,
                    handler: HandlerConfig(name: "python-slurm", plugin: "python", backend: "slurm"),
                    buffers: buffers, workRoot: root, logger: Logger(label: "test"))
                let prepared = try await plugin.prepare(job)
                let outcome = try await SlurmBackend(options: SlurmCluster.fastOptions()).run(
                    prepared.execution, events: ExecutionEvents())
                #expect(outcome.externalID != nil, "the job ran through Slurm")
                let result = try await plugin.collect(job, prepared: prepared, outcome: outcome)
                #expect(result == Array("42\n".utf8))
            }
        }
    }
}
