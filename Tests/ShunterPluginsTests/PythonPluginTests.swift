import Foundation
import ShunterBackends
import ShunterCore
import ShunterHandlers
import ShunterPlugins
import Testing

/// The python plugin's own behaviour: configuration, refusals, the runner's failure modes,
/// timeouts and cost. What results it gives is PythonPluginConformanceTests' subject.
@Suite("Python plugin", .serialized)
struct PythonPluginTests {
    @Test func registeredWithItsLanguageBackendsAndOptions() throws {
        let descriptor = try #require(JobPluginRegistry.descriptor(named: "python"))
        #expect(descriptor.component.languages == ["python"])
        #expect(descriptor.component.compatibleBackends == ["local", "slurm"])
        #expect(descriptor.component.optionSection == "python")
        #expect(
            Set(descriptor.component.optionKeys.keys) == [
                "interpreter", "pass_environment", "warm", "warm_start", "warm_idle_timeout",
            ])
    }

    @Test func shippedHandlerLoadsWithTheRealCatalog() throws {
        let loaded = HandlerLoader(catalog: JobPluginRegistry.catalog()).load(files: [
            pluginsRepositoryRoot + "/handlers/20-python-local.yaml"
        ])
        #expect(loaded.errors.isEmpty, "\(loaded.errors)")
        let python = try #require(loaded.handlers.first { $0.plugin == "python" })
        #expect(python.name == "python-local")
        #expect(python.backend == "local")
        #expect(python.match.languages == ["python"])
        // With no python: section, the checkout's venv is found from the handler file.
        let plugin = try PythonPlugin(handler: python, brokerEnvironment: ["PATH": "/usr/bin"])
        #expect(plugin.interpreter == pluginsRepositoryRoot + "/.venv-seamless/bin/python")
    }

    @Test func interpreterDefaultsAndOptions() throws {
        let root = try TemporaryDirectory()
        defer { root.cleanUp() }
        let venvBin = root.path + "/.venv-seamless/bin"
        try FileManager.default.createDirectory(atPath: venvBin, withIntermediateDirectories: true)
        #expect(
            FileManager.default.createFile(
                atPath: venvBin + "/python", contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o755])
        )
        let handlerFile = root.path + "/handlers/sub/20-python.yaml"
        func handler(_ options: [String: ConfigValue] = [:]) -> HandlerConfig {
            HandlerConfig(
                name: "py", plugin: "python", backend: "local", options: options,
                source: SourceLocation(file: handlerFile, line: 1, column: 1))
        }
        let location = SourceLocation(file: handlerFile, line: 9, column: 3)
        func section(_ entries: [String: ConfigValue]) -> [String: ConfigValue] {
            ["python": .map(entries.map { (key: $0.key, value: $0.value) }, location)]
        }

        // Found above the handler file; $SHUNTER_PYTHON wins; nothing found: python3 on PATH.
        #expect(try PythonPlugin(handler: handler(), brokerEnvironment: [:]).interpreter == venvBin + "/python")
        #expect(
            try PythonPlugin(handler: handler(), brokerEnvironment: ["SHUNTER_PYTHON": "/x/py"]).interpreter == "/x/py")
        #expect(PythonInterpreter.defaultPath(handlerFile: "/nonexistent/h.yaml", environment: [:]) == "python3")

        // Written: relative to the handler file, a bare name stays a PATH lookup.
        let relative = try PythonPlugin(
            handler: handler(section(["interpreter": .string("../env/bin/python", location)])), brokerEnvironment: [:])
        #expect(relative.interpreter == root.path + "/handlers/env/bin/python")
        let bare = try PythonPlugin(
            handler: handler(section(["interpreter": .string("python3.11", location)])), brokerEnvironment: [:])
        #expect(bare.interpreter == "python3.11")

        // pass_environment picks variables out of the broker's environment.
        let passing = try PythonPlugin(
            handler: handler(section(["pass_environment": .list([.string("KEEP", location)], location)])),
            brokerEnvironment: ["KEEP": "1", "SECRET": "2"])
        #expect(passing.inheritedEnvironment == ["KEEP": "1"])

        #expect(throws: ConfigError.self) {
            try PythonPlugin(handler: handler(section(["interpreter": .list([], location)])), brokerEnvironment: [:])
        }
    }

    @Test func probeAcceptsTheSeamlessVenvAndNamesWhatIsWrongOtherwise() async throws {
        let python = try seamlessPython()
        #expect(await PythonInterpreter.problem(interpreter: python, environment: [:]) == nil)
        let scratch = try TemporaryDirectory()
        defer { scratch.cleanUp() }
        let withoutSite = try Self.interpreterWithoutSitePackages(in: scratch.path)
        let problem = try #require(await PythonInterpreter.problem(interpreter: withoutSite, environment: [:]))
        #expect(problem.contains("No module named 'seamless"), "\(problem)")
        let missing = try #require(
            await PythonInterpreter.problem(interpreter: scratch.path + "/nope", environment: [:]))
        #expect(missing.contains(scratch.path + "/nope"))
    }

    @Test func anInterpreterWithoutSeamlessFailsTheJobWithAHint() async throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.cleanUp() }
        let harness = try PythonJobHarness(interpreter: try Self.interpreterWithoutSitePackages(in: scratch.path))
        defer { harness.cleanUp() }
        let transformation = try await harness.transformation(code: "result = 1")
        await #expect {
            _ = try await harness.run(harness.context(transformation))
        } throws: { error in
            guard let failure = error as? JobFailure else { return false }
            return failure.kind == .internalError && failure.message.contains("cannot import Seamless")
                && failure.message.contains("python.interpreter")
        }
    }

    @Test func aJobRunningTooLongIsStoppedWithShuntersTimeoutText() async throws {
        let harness = try PythonJobHarness()
        defer { harness.cleanUp() }
        let transformation = try await harness.transformation(code: "import time\ntime.sleep(60)\nresult = 1")
        // A failure of kind timedOut can only come from the 2 s timeout, not from the 60 s job.
        await #expect {
            _ = try await harness.run(harness.context(transformation, timeout: .seconds(2)))
        } throws: { error in
            guard let failure = error as? JobFailure else { return false }
            return failure.kind == .timedOut && failure.message.hasPrefix("Timeout: the job ran longer than 2")
        }
    }

    @Test func aResultLargerThanTheBrokersLimitFailsTheJob() async throws {
        let harness = try PythonJobHarness()
        defer { harness.cleanUp() }
        let transformation = try await harness.transformation(code: "result = 'x' * 5000", output: "text")
        var job = harness.context(transformation)
        job.maxResultBytes = 1000
        await #expect {
            _ = try await harness.run(job)
        } throws: { error in
            guard let failure = error as? JobFailure else { return false }
            return failure.kind == .badResult && failure.message.contains("max_result_size")
        }
        #expect(
            try await harness.run(harness.context(transformation)).count > 5000,
            "the same result is stored under the default limit")
    }

    @Test func refusesWhatItCannotRunBeforeWritingAnything() async throws {
        let harness = try PythonJobHarness()
        defer { harness.cleanUp() }
        let bash = try Transformation.parse(dict: [
            "__language__": .string("bash"), "__output__": .array([.string("result"), .string("text"), .null]),
            "code": .array([.string("text"), .null, .string(HashAlgorithm.sha256.checksum(of: [1]).hex)]),
        ])
        await #expect(throws: JobFailure.self) { _ = try await harness.plugin.prepare(harness.context(bash)) }

        let deep = try await harness.transformation(code: "result = 1", pins: ["d": ("deepcell", Array("{}\n".utf8))])
        await #expect {
            _ = try await harness.plugin.prepare(harness.context(deep))
        } throws: { ($0 as? JobFailure)?.message.contains("deep pin") == true }

        // A pin whose buffer the store lacks: refused, and its work directory removed.
        let absent = HashAlgorithm.sha256.checksum(of: Array("42\n".utf8))
        var dict = try await harness.transformation(code: "result = a").dict
        dict["a"] = .array([.string("int"), .null, .string(absent.hex)])
        let missing = try Transformation.parse(dict: dict)
        await #expect {
            _ = try await harness.plugin.prepare(harness.context(missing))
        } throws: { ($0 as? JobFailure)?.message == "pin 'a': buffer \(absent) is not in the buffer store" }
        #expect(try FileManager.default.contentsOfDirectory(atPath: harness.root.path).isEmpty)
    }

    @Test func theJobDirectoryIsSelfContained() async throws {
        let harness = try PythonJobHarness()
        defer { harness.cleanUp() }
        let transformation = try await harness.transformation(
            code: "result = a * 2", pins: ["a": ("int", Array("21\n".utf8))], output: "int")
        let prepared = try await harness.plugin.prepare(harness.context(transformation))
        let python = prepared.workDirectory + "/python"
        let request = try JSONParser.parse(try readBytes(python + "/transformation.json"))
        #expect(request.objectValue?["tf_checksum"]?.stringValue == transformation.checksum.hex)
        #expect(FileManager.default.fileExists(atPath: python + "/runner.py"))
        #expect(FileManager.default.fileExists(atPath: python + "/buffers/" + transformation.pins["a"]!.checksum.hex))
        #expect(prepared.execution.workDirectory == prepared.workDirectory + "/work")
        let outcome = try await harness.backend.run(prepared.execution, events: ExecutionEvents())
        let result = try await harness.plugin.collect(
            harness.context(transformation), prepared: prepared, outcome: outcome)
        #expect(result == Array("42\n".utf8))
    }

    @Test("per-job cost: a trivial Python transformation, sequential and 4 at once")
    func perJobCost() async throws {
        let harness = try PythonJobHarness()
        defer { harness.cleanUp() }
        let count = 4
        var transformations: [Transformation] = []
        for index in 0..<(2 * count) {
            transformations.append(try await harness.transformation(code: "result = \(index)", output: "int"))
        }
        var started = ContinuousClock.now
        for index in 0..<count {
            #expect(try await harness.run(harness.context(transformations[index])) == Array("\(index)\n".utf8))
        }
        let sequential = (ContinuousClock.now - started) / count
        let concurrentJobs = transformations
        started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in count..<(2 * count) {
                group.addTask {
                    let result = try await harness.run(harness.context(concurrentJobs[index]))
                    #expect(result == Array("\(index)\n".utf8))
                }
            }
            try await group.waitForAll()
        }
        let concurrent = (ContinuousClock.now - started) / count
        print(
            "PythonPlugin per trivial job (local backend): sequential \(sequential), all \(count) at once \(concurrent)"
        )
    }

    /// The Seamless venv's Python with `-S`: the standard library but no site-packages, so no
    /// Seamless (a Python "without Seamless" that exists on every machine that runs these tests).
    static func interpreterWithoutSitePackages(in directory: String) throws -> String {
        let path = directory + "/python-without-seamless"
        let script = "#!/bin/sh\nexec \(try seamlessPython()) -S \"$@\"\n"
        #expect(
            FileManager.default.createFile(
                atPath: path, contents: Data(script.utf8), attributes: [.posixPermissions: 0o755]))
        return path
    }
}
