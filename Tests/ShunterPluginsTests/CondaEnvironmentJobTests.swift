import Foundation
import Logging
import ShunterBackends
import ShunterCore
import ShunterEnvironments
import ShunterHandlers
import ShunterPlugins
import ShunterStore
import ShunterTestSupport
import Testing

/// Jobs in real environments: `numpy-conda` is a conda prefix built by py-rattler from the
/// local test channel (numpy 2.2.6), `numpy-pip` the shipped conda-envs/numpy-pip.yml (a venv
/// with numpy 2.4.6 from PyPI). Built once for the suite, in a temporary root.
@Suite("Jobs in conda environments", .serialized)
struct CondaEnvironmentJobTests {
    /// One store for every test of the suite: building the environments is the slow part.
    static let fixture: Result<(store: EnvironmentStore, root: String, channel: String), any Error> = {
        Result {
            let tools = try CondaTestTools.require()
            let channel = tools.channel
            let root = try TemporaryDirectory().path
            let definitions = root + "/conda-envs"
            try FileManager.default.createDirectory(atPath: definitions, withIntermediateDirectories: true)
            try """
            channels: [\(channel)]
            dependencies: [python 3.11.*, numpy, shunter-probe 1.0]
            """.write(toFile: definitions + "/numpy-conda.yml", atomically: true, encoding: .utf8)
            try FileManager.default.copyItem(
                atPath: pluginsRepositoryRoot + "/conda-envs/numpy-pip.yml", toPath: definitions + "/numpy-pip.yml")
            let config = EnvironmentsConfig(
                definitions: definitions, root: root + "/envs", channels: [channel], toolsPython: tools.python)
            let store = EnvironmentStore(
                config: config,
                managers: EnvironmentManagerRegistry.managers(
                    for: config, environment: ProcessInfo.processInfo.environment),
                logger: Logger(label: "test.environments"))
            return (store, root, channel)
        }
    }()

    func inEnvironment(_ job: JobContext, _ environment: TransformationEnvironment?) throws -> JobContext {
        var job = job
        job.environment = environment
        job.environments = try Self.fixture.get().store
        return job
    }

    func python(
        _ harness: PythonJobHarness, _ code: String, env: TransformationEnvironment?, output: String = "mixed",
        pins: [String: (celltype: String, buffer: [UInt8])] = [:]
    ) async throws -> [UInt8] {
        let transformation = try await harness.transformation(code: code, pins: pins, output: output)
        return try await harness.run(try inEnvironment(harness.context(transformation), env))
    }

    @Test("the same Python transformation gives the same checksum in two environments and in the default one")
    func sameChecksumEverywhere() async throws {
        let harness = try PythonJobHarness()
        defer { harness.cleanUp() }
        let code = "import numpy as np\nresult = (np.arange(a) ** 2).astype(np.float64) / 3"
        let pins: [String: (celltype: String, buffer: [UInt8])] = ["a": ("int", Array("12\n".utf8))]
        let environments: [TransformationEnvironment?] = [
            nil, .init(condaEnvironment: "numpy-conda"), .init(condaEnvironment: "numpy-pip"),
        ]
        var checksums: [String] = []
        for environment in environments {
            let result = try await python(harness, code, env: environment, pins: pins)
            checksums.append(HashAlgorithm.sha256.checksum(of: result).hex)
        }
        #expect(Set(checksums).count == 1, "\(checksums)")

        // ... and each really ran with its own environment's numpy and interpreter.
        let probe = "import sys, numpy\nresult = sys.prefix + ' ' + numpy.__version__"
        let conda = String(
            decoding: try await python(harness, probe, env: .init(condaEnvironment: "numpy-conda"), output: "str"),
            as: UTF8.self)
        let pip = String(
            decoding: try await python(harness, probe, env: .init(condaEnvironment: "numpy-pip"), output: "str"),
            as: UTF8.self)
        let root = try Self.fixture.get().root
        #expect(conda.hasPrefix("\"\(root)/envs/.prefixes/") && conda.hasSuffix(" 2.2.6\"\n"), "\(conda)")
        #expect(pip.hasPrefix("\"\(root)/envs/.prefixes/") && pip.hasSuffix(" 2.4.6\"\n"), "\(pip)")
    }

    @Test("two environments in use at once get two warm parents, and a job in each its own numpy")
    func twoEnvironmentsTwoWarmParents() async throws {
        let harness = try PythonJobHarness()
        defer { harness.cleanUp() }
        // Each job holds its warm parent busy until both run: they overlap.
        let gate = harness.root.path + "/gate-" + UUID().uuidString
        let probe = """
            import os, sys, time, numpy
            open(\(String(reflecting: gate)) + "-" + numpy.__version__, "w").close()
            while len([n for n in os.listdir(\(String(reflecting: harness.root.path))) if n.startswith(\(String(reflecting: "gate-")))]) < 2:
                time.sleep(0.01)
            result = f"{os.getppid()} {sys.executable} {numpy.__version__}"
            """
        async let conda = python(harness, probe, env: .init(condaEnvironment: "numpy-conda"), output: "str")
        async let pip = python(harness, probe, env: .init(condaEnvironment: "numpy-pip"), output: "str")
        let answers = try await [conda, pip].map {
            String(decoding: $0, as: UTF8.self).dropFirst().dropLast(2).split(separator: " ")
        }
        try #require(answers.allSatisfy { $0.count == 3 })
        #expect(answers[0][2] == "2.2.6" && answers[1][2] == "2.4.6", "\(answers)")
        #expect(answers[0][0] != answers[1][0], "one warm parent per environment: \(answers)")
        #expect(answers[0][1] != answers[1][1], "each environment's own interpreter: \(answers)")
        let parents = WarmParents.shared.status()
        for answer in answers {
            let parent = try #require(
                parents.first { String($0.pid) == answer[0] },
                "\(answer) was forked by a listed warm parent: \(parents)")
            #expect(parent.kind.hasPrefix("python in conda environment"), "\(parent)")
            #expect(
                parent.interpreter == String(answer[1])
                    || URL(fileURLWithPath: parent.interpreter).resolvingSymlinksInPath().path
                        == URL(fileURLWithPath: String(answer[1])).resolvingSymlinksInPath().path,
                "\(parent)")
        }
    }

    @Test("bash jobs get the environment activated: PATH, CONDA_PREFIX")
    func bashActivated() async throws {
        let harness = try BashJobHarness()
        defer { harness.cleanUp() }
        let job = try await harness.job(
            code: "echo \"$CONDA_PREFIX\" > RESULT; shunter-probe | head -1 >> RESULT; command -v python >> RESULT",
            pins: [], output: "text")
        let (result, prepared) = try await harness.run(try inEnvironment(job, .init(condaEnvironment: "numpy-conda")))
        let lines = String(decoding: result, as: UTF8.self).split(separator: "\n").map(String.init)
        let prefix = try #require(prepared.environment?.prefix)
        #expect(lines == [prefix, "shunter-probe 1.0", prefix + "/bin/python"])
    }

    @Test("an inline spec from __env__.conda is built and used")
    func inlineSpec() async throws {
        let harness = try BashJobHarness()
        defer { harness.cleanUp() }
        let channel = try Self.fixture.get().channel
        let spec = try JSONParser.parse(
            Array(#"{"channels": ["\#(channel)"], "dependencies": ["shunter-probe 2.0"]}"#.utf8))
        let job = try await harness.job(code: "shunter-probe | head -1 > RESULT", pins: [], output: "text")
        let (result, _) = try await harness.run(try inEnvironment(job, .init(condaSpec: spec)))
        #expect(String(decoding: result, as: UTF8.self) == "shunter-probe 2.0\n")
    }

    @Test("an unknown name and an unsolvable spec fail the job with a message a user can act on")
    func failures() async throws {
        let harness = try BashJobHarness()
        defer { harness.cleanUp() }
        let job = try await harness.job(code: "echo hi > RESULT", pins: [], output: "text")
        do {
            _ = try await harness.run(try inEnvironment(job, .init(condaEnvironment: "numpy-cond")))
            Issue.record("ran in an unknown environment")
        } catch let failure as JobFailure {
            #expect(failure.kind == .environmentUnavailable)
            #expect(failure.message.contains("unknown conda environment 'numpy-cond'"))
            #expect(failure.message.contains("did you mean 'numpy-conda'"))
        }
        let channel = try Self.fixture.get().channel
        let spec = try JSONParser.parse(Array(#"{"channels": ["\#(channel)"], "dependencies": ["numpy 0.0.1"]}"#.utf8))
        do {
            _ = try await harness.run(try inEnvironment(job, .init(condaSpec: spec)))
            Issue.record("ran in an unsolvable environment")
        } catch let failure as JobFailure {
            #expect(failure.kind == .environmentUnavailable)
            #expect(failure.message.contains("cannot be solved"))
            #expect(failure.message.contains("No candidates were found for numpy"))
        }
    }

    @Test("a python job re-attached after a restart runs the recorded command, its environment leased again")
    func reattachedPythonJob() async throws {
        let harness = try PythonJobHarness()
        defer { harness.cleanUp() }
        let transformation = try await harness.transformation(
            code: "import numpy\nresult = numpy.__version__", output: "str")
        let job = try inEnvironment(harness.context(transformation), .init(condaEnvironment: "numpy-conda"))
        let prepared = try await harness.plugin.prepare(job)
        let originalPrefix = try #require(prepared.environment?.prefix)

        // A new broker process would rebuild the context and re-attach from the work directory.
        let reattached = try await harness.plugin.reattach(job, workDirectory: prepared.workDirectory)
        #expect(reattached.execution.command == prepared.execution.command)
        #expect(reattached.execution.environment == prepared.execution.environment)
        #expect(reattached.environment?.prefix == originalPrefix)
        #expect(reattached.environment?.lease != nil)
        let outcome = try await harness.backend.run(reattached.execution, events: ExecutionEvents())
        let result = try await harness.plugin.collect(job, prepared: reattached, outcome: outcome)
        #expect(String(decoding: result, as: UTF8.self) == "\"2.2.6\"\n")
    }
}
