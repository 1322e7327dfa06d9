import Foundation
import Logging
import ShunterCore
import ShunterEnvironments
import ShunterHandlers
import ShunterPlugins
import ShunterStore
import ShunterTestSupport
import Testing

@testable import ShunterBackends

/// Jobs in a conda environment on Slurm: the broker builds the environment (under a root the
/// nodes see), the batch job runs with it activated. The environment is a real conda prefix made
/// by py-rattler from the local test channel (scripts/setup-conda-tools.sh).
extension SlurmClusterTests {
    @Suite(.serialized) struct SlurmEnvironmentTests {
        static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path

        func store(root: String) throws -> EnvironmentStore {
            let tools = try CondaTestTools.require()
            let definitions = root + "/conda-envs"
            try FileManager.default.createDirectory(atPath: definitions, withIntermediateDirectories: true)
            try "dependencies: [python 3.11.*, numpy, shunter-probe 2.0]\n"
                .write(toFile: definitions + "/numpy-conda.yml", atomically: true, encoding: .utf8)
            let config = EnvironmentsConfig(
                definitions: definitions, root: root + "/envs", channels: [tools.channel], toolsPython: tools.python)
            return EnvironmentStore(
                config: config,
                managers: EnvironmentManagerRegistry.managers(
                    for: config, environment: ProcessInfo.processInfo.environment),
                logger: Logger(label: "test.environments"))
        }

        @Test func pythonAndBashJobsRunInACondaEnvironmentInBatchJobs() async throws {
            try await SlurmCluster.require()
            let python = Self.repository + "/" + PythonInterpreter.venvRelativePath
            try #require(
                FileManager.default.isExecutableFile(atPath: python),
                "\(python) is missing: run scripts/setup-seamless-venv.sh")
            try await withTestRoot { root in
                let environments = try store(root: root)
                let buffers = MemoryBufferStore()
                let backend = SlurmBackend(options: SlurmCluster.fastOptions())
                let inEnvironment = TransformationEnvironment(condaEnvironment: "numpy-conda")

                // Python: numpy of the environment (2.2.6; the default interpreter has another).
                let code = try await buffers.put(
                    Array("import numpy\nresult = numpy.__version__ + ' ' + str(int(numpy.arange(a).sum()))\n".utf8),
                    expected: nil)
                let a = try await buffers.put(try CelltypeCodec.serialize(.int(10), as: .int), expected: nil)
                let pythonJob = JobContext(
                    jobID: "py-env-\(UUID().uuidString.prefix(8))",
                    transformation: try Transformation.parse(dict: [
                        "__language__": .string("python"),
                        "__output__": .array([.string("result"), .string("str"), .null]),
                        "code": .array([.string("python"), .string("transformer"), .string(code.hex)]),
                        "a": .array([.string("int"), .null, .string(a.hex)]),
                    ]),
                    environment: inEnvironment,
                    handler: HandlerConfig(name: "python-slurm", plugin: "python", backend: "slurm"),
                    buffers: buffers, workRoot: root, environments: environments, logger: Logger(label: "test"))
                let plugin = PythonPlugin(interpreter: python, inheritedEnvironment: ["PATH": "/usr/bin:/bin"])
                let prepared = try await plugin.prepare(pythonJob)
                let outcome = try await backend.run(prepared.execution, events: ExecutionEvents())
                #expect(outcome.externalID != nil, "the job ran through Slurm")
                let result = try await plugin.collect(pythonJob, prepared: prepared, outcome: outcome)
                #expect(String(decoding: result, as: UTF8.self) == "\"2.2.6 45\"\n")

                // Bash: the environment's programs on PATH, CONDA_PREFIX set.
                let bashCode = try await buffers.put(
                    try CelltypeCodec.serialize(
                        .string("shunter-probe | head -1 > RESULT; echo \"$CONDA_PREFIX\" >> RESULT"), as: .text),
                    expected: nil)
                let bashJob = JobContext(
                    jobID: "bash-env-\(UUID().uuidString.prefix(8))",
                    transformation: try Transformation.parse(dict: [
                        "__language__": .string("bash"),
                        "__output__": .array([.string("result"), .string("text"), .null]),
                        "code": .array([.string("text"), .null, .string(bashCode.hex)]),
                    ]),
                    environment: inEnvironment,
                    handler: HandlerConfig(name: "bash-slurm", plugin: "bash", backend: "slurm"),
                    buffers: buffers, workRoot: root, environments: environments, logger: Logger(label: "test"))
                let bash = BashPlugin(inheritedEnvironment: ["PATH": "/usr/bin:/bin"])
                let bashPrepared = try await bash.prepare(bashJob)
                let bashOutcome = try await backend.run(bashPrepared.execution, events: ExecutionEvents())
                let text = String(
                    decoding: try await bash.collect(bashJob, prepared: bashPrepared, outcome: bashOutcome),
                    as: UTF8.self)
                #expect(text == "shunter-probe 2.0\n\(try #require(bashPrepared.environment?.prefix))\n")
                #expect(await environments.buildsRun == 1, "both jobs used one environment, built once")
            }
        }
    }
}
