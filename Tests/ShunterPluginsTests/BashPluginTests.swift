import Foundation
import ShunterBackends
import ShunterCore
import ShunterHandlers
import ShunterPlugins
import ShunterStore
import Testing

@Suite("BashPlugin")
struct BashPluginTests {
    @Test("the work directory is <tf checksum prefix>-<job id> with the pins, transform.sh, and logs beside work/")
    func workDirectoryLayout() async throws {
        let harness = try BashJobHarness()
        defer { harness.cleanUp() }
        let job = try await harness.job(
            code: "echo out; echo err >&2; echo 1 > RESULT", pins: [("a", "int", Array("5\n".utf8))],
            output: "int", jobID: "job-7")
        let prepared = try await harness.plugin.prepare(job)
        let expectedPath = harness.root.path + "/" + job.transformation.checksum.prefix(12) + "-job-7"
        #expect(prepared.workDirectory == expectedPath)
        #expect(prepared.execution.workDirectory == expectedPath + "/work")
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: expectedPath + "/work").sorted() == [
                "a", "transform.sh",
            ])
        #expect(prepared.execution.command.first == "/bin/bash")
        #expect(prepared.execution.command.dropFirst().first == "-c")
        #expect(
            prepared.execution.command.last
                == "set -u -e\n# background jobs are stopped when this script ends\necho out; echo err >&2; echo 1 > RESULT"
        )
        let outcome = try await harness.backend.run(prepared.execution, events: ExecutionEvents())
        #expect(outcome.termination == .exited(0))
        #expect(try String(contentsOfFile: prepared.execution.stdoutPath, encoding: .utf8) == "out\n")
        #expect(try String(contentsOfFile: prepared.execution.stderrPath, encoding: .utf8) == "err\n")
        let result = try await harness.plugin.collect(job, prepared: prepared, outcome: outcome)
        #expect(result == Array("1\n".utf8))
    }

    @Test(
        "a job in a recycled directory sees exactly its own files: the earlier job's other files are gone, its own hold its values"
    )
    func recycledDirectory() async throws {
        let harness = try BashJobHarness()
        defer { harness.cleanUp() }
        let first = try await harness.job(
            code: "echo 1 > RESULT",
            pins: [
                ("a", "int", Array("5\n".utf8)), ("b", "text", Array("earlier\n".utf8)),
                ("d", "text", Array("x\n".utf8)),
            ],
            output: "int")
        let (_, firstPrepared) = try await harness.run(first)
        let firstInode =
            try FileManager.default.attributesOfItem(atPath: firstPrepared.workDirectory)[.systemFileNumber] as? UInt64
        WorkDirectory(path: firstPrepared.workDirectory).recycle()

        // `b` is a bytes pin now: copied by the store, so the earlier `b` must be out of its way.
        let second = try await harness.job(
            code: "ls > RESULT; echo $a >> RESULT; cat b >> RESULT",
            pins: [("a", "int", Array("7\n".utf8)), ("b", "bytes", Array("raw\n".utf8))], output: "text")
        let (result, secondPrepared) = try await harness.run(second)
        let secondInode =
            try FileManager.default.attributesOfItem(atPath: secondPrepared.workDirectory)[.systemFileNumber] as? UInt64
        #expect(secondInode == firstInode, "the second job ran in the first one's directory")
        #expect(String(decoding: result, as: UTF8.self) == "RESULT\na\nb\ntransform.sh\n7\nraw\n")
    }

    @Test("the job's environment is the passed-through variables plus the pins, nothing else of the broker's")
    func cleanEnvironment() async throws {
        let harness = try BashJobHarness()
        defer { harness.cleanUp() }
        setenv("SHUNTER_TEST_SECRET", "leak", 1)
        defer { unsetenv("SHUNTER_TEST_SECRET") }
        let job = try await harness.job(
            code: "env | grep -v '^_=' | grep -v '^PWD=' | grep -v '^SHLVL=' | sort > RESULT",
            pins: [("a", "int", Array("5\n".utf8)), ("b.txt", "text", Array("x\n".utf8))], output: "text")
        let (result, _) = try await harness.run(job)
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        #expect(String(decoding: result, as: UTF8.self) == "PATH=\(path)\na=5\n")

        let fromConfig = try BashPlugin(
            handler: HandlerConfig(name: "h", plugin: "bash", backend: "local"),
            brokerEnvironment: ["PATH": "/p", "HOME": "/h", "SECRET": "s"])
        #expect(fromConfig.inheritedEnvironment == ["PATH": "/p", "HOME": "/h"])
    }

    @Test("bash.pass_environment and bash.shell are read from the handler, with locations in errors")
    func options() throws {
        let at = SourceLocation(file: "h.yaml", line: 3, column: 5)
        let handler = HandlerConfig(
            name: "h", plugin: "bash", backend: "local",
            options: [
                "bash": .map(
                    [
                        (key: "pass_environment", value: .list([.string("FOO", at)], at)),
                        (key: "shell", value: .string("/usr/bin/bash", at)),
                    ], at)
            ])
        let plugin = try BashPlugin(handler: handler, brokerEnvironment: ["FOO": "1", "PATH": "/p"])
        #expect(plugin.inheritedEnvironment == ["FOO": "1"])
        #expect(plugin.shell == "/usr/bin/bash")

        let bad = HandlerConfig(
            name: "h", plugin: "bash", backend: "local",
            options: ["bash": .map([(key: "pass_environment", value: .int(3, at))], at)])
        #expect(throws: ConfigError.self) { try BashPlugin(handler: bad) }
        do {
            _ = try BashPlugin(handler: bad)
        } catch {
            #expect(
                "\(error)" == "h.yaml:3:5: 'bash.pass_environment' must be text or a list of texts, got the number 3")
        }
    }

    @Test("a timeout stops the job and fails it as timedOut, in Seamless's error shape")
    func timeoutFailsJob() async throws {
        let harness = try BashJobHarness(killGrace: .milliseconds(200))
        defer { harness.cleanUp() }
        let job = try await harness.job(
            code: "echo started; sleep 1000", pins: [], output: "int", timeout: .milliseconds(300))
        // `sleep 1000`: the failure below can only come from the timeout.
        do {
            _ = try await harness.run(job)
            Issue.record("a job that outlives its timeout must fail")
        } catch let failure as JobFailure {
            #expect(failure.kind == .timedOut)
            #expect(
                failure.message.hasPrefix("\nBash transformer exception\n==========================\n\nError: Timeout"))
            #expect(
                failure.message.contains(
                    "* Standard output\n*************************************************\nstarted\n"))
        }
    }

    @Test("a RESULT directory for an output celltype other than plain/mixed is refused with the reason")
    func resultDirectoryForText() async throws {
        let harness = try BashJobHarness()
        defer { harness.cleanUp() }
        let job = try await harness.job(code: "mkdir RESULT; echo 1 > RESULT/a", pins: [], output: "text")
        await #expect(throws: JobFailure.self) { _ = try await harness.run(job) }
    }

    @Test("an empty RESULT file fails as badResult, with the job's stdout")
    func emptyResultFile() async throws {
        let harness = try BashJobHarness()
        defer { harness.cleanUp() }
        let job = try await harness.job(code: "echo out; touch RESULT", pins: [], output: "int")
        do {
            _ = try await harness.run(job)
            Issue.record("an empty RESULT has no value (Seamless fails too)")
        } catch let failure as JobFailure {
            #expect(failure.kind == .badResult)
            #expect(failure.message.contains("empty"))
            #expect(
                failure.message.hasSuffix(
                    "* Standard output\n*************************************************\nout\n\n*************************************************\n"
                ))
        }
    }

    @Test("pin names that Seamless refuses: absolute paths and ..")
    func refusedPinNames() async throws {
        let harness = try BashJobHarness()
        defer { harness.cleanUp() }
        for (name, message) in [
            ("/etc/x", "Pin /etc/x: Absolute path is not allowed"), ("a/../b", "Pin a/../b: .. is not allowed"),
        ] {
            let job = try await harness.job(code: "true", pins: [(name, "int", Array("1\n".utf8))], output: "int")
            do {
                _ = try await harness.plugin.prepare(job)
                Issue.record("pin \(name) must be refused")
            } catch let failure as JobFailure {
                #expect(failure.kind == .badInput)
                #expect(failure.message == message)
            }
            // A refused job leaves no directory behind.
            #expect(try FileManager.default.contentsOfDirectory(atPath: harness.root.path).isEmpty)
        }
    }

    @Test("a missing input buffer fails prepare with the pin and checksum named")
    func missingInput() async throws {
        let harness = try BashJobHarness()
        defer { harness.cleanUp() }
        let store = MemoryBufferStore()
        let other = try BashJobHarness(buffers: store)
        defer { other.cleanUp() }
        // Built against one store, prepared against an empty one (but for the code).
        let job = try await harness.job(code: "cat a > RESULT", pins: [("a", "int", Array("1\n".utf8))], output: "int")
        _ = try await store.put(try CelltypeCodec.serialize(.string("cat a > RESULT"), as: .text), expected: nil)
        var moved = job
        moved.buffers = store
        do {
            _ = try await other.plugin.prepare(moved)
            Issue.record("a missing input must fail")
        } catch let failure as JobFailure {
            #expect(failure.kind == .badInput)
            #expect(failure.message.hasPrefix("pin 'a': buffer "))
            #expect(failure.message.hasSuffix(" is not in the buffer store"))
        }
    }

    @Test("a 50 MB bytes pin is copied by the store (materialize), never loaded by the plugin")
    func largeInputIsMaterialized() async throws {
        let storeDirectory = try TemporaryDirectory()
        defer { storeDirectory.cleanUp() }
        let fileStore = try FileBufferStore(directory: storeDirectory.path)
        let spy = LoadRecordingStore(base: fileStore)
        let harness = try BashJobHarness(buffers: spy)
        defer { harness.cleanUp() }
        var big = [UInt8](repeating: 0, count: 50 * 1024 * 1024)
        for index in stride(from: 0, to: big.count, by: 4096) { big[index] = UInt8(truncatingIfNeeded: index / 4096) }
        let job = try await harness.job(code: "wc -c < big > RESULT", pins: [("big", "bytes", big)], output: "int")
        let bigChecksum = HashAlgorithm.sha256.checksum(of: big)
        big = []
        await spy.reset()
        let (result, prepared) = try await harness.run(job)
        #expect(result == Array("52428800\n".utf8))
        #expect(await spy.loaded.contains(bigChecksum) == false)
        #expect(await spy.materialized.contains(bigChecksum))
        let copy = try #require(FileManager.default.contents(atPath: prepared.execution.workDirectory + "/big"))
        #expect(HashAlgorithm.sha256.checksum(of: copy) == bigChecksum)
    }

    @Test("the registries list bash and local, and the catalog pairs them")
    func registries() {
        let catalog = JobPluginRegistry.catalog()
        #expect(catalog.plugin(named: "bash")?.compatibleBackends == ["local", "slurm"])
        #expect(catalog.plugin(named: "bash")?.optionSection == "bash")
        #expect(catalog.backend(named: "local") != nil)
        #expect(JobPluginRegistry.descriptor(named: "bash") != nil)
        #expect(BackendRegistry.descriptor(named: "local") != nil)
        #expect(BackendRegistry.descriptor(named: "nope") == nil)
    }
}

/// A real store that records which buffers were loaded into memory and which were copied.
actor LoadRecordingStore: BufferStore {
    let base: any BufferStore
    private(set) var loaded: Set<Checksum> = []
    private(set) var materialized: Set<Checksum> = []

    init(base: any BufferStore) { self.base = base }

    nonisolated var hashAlgorithm: HashAlgorithm { base.hashAlgorithm }

    func reset() {
        loaded = []
        materialized = []
    }

    func get(_ checksum: Checksum) async throws -> [UInt8]? {
        loaded.insert(checksum)
        return try await base.get(checksum)
    }

    func put(_ buffer: [UInt8], expected: Checksum?) async throws -> Checksum {
        try await base.put(buffer, expected: expected)
    }

    func has(_ checksums: [Checksum]) async throws -> [Bool] { try await base.has(checksums) }
    func length(_ checksum: Checksum) async throws -> Int? { try await base.length(checksum) }
    func promise(_ checksum: Checksum) async throws { try await base.promise(checksum) }

    func materialize(_ checksum: Checksum, to path: String) async throws {
        materialized.insert(checksum)
        try await base.materialize(checksum, to: path)
    }
}
