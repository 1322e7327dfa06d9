import Foundation
import ShunterCore
import ShunterEnvironments
import ShunterHandlers
import ShunterTestSupport
import Testing

/// Real environments built by the real managers: py-rattler from the local test channel, venv
/// with packages from PyPI.
@Suite("Environment store: creation on first use, locking, failures, removal", .serialized)
struct EnvironmentStoreTests {
    @Test("three jobs asking at once, two of them in another broker on the same root: one build")
    func concurrentRequestsBuildOnce() async throws {
        try await withTemporaryDirectory { directory in
            let first = try makeStore(root: directory)
            let second = try makeStore(root: directory) // a second broker sharing the root
            let spec = try channelSpec(["python 3.11.*", "numpy", "shunter-probe 1.0"], name: "numpy-test")
            async let a = first.prepare(spec, jobID: "job-1")
            async let b = first.prepare(spec, jobID: "job-2")
            async let c = second.prepare(spec, jobID: "job-3")
            let ready = try await [a, b, c]
            #expect(Set(ready.map(\.prefix)).count == 1)
            let builds = await first.buildsRun + second.buildsRun
            #expect(builds == 1)
            let prefixes = try FileManager.default.contentsOfDirectory(atPath: directory + "/envs/.prefixes")
            #expect(prefixes.count == 1)

            let prefix = ready[0].prefix
            #expect(FileManager.default.fileExists(atPath: prefix + "/conda-meta"))
            let numpy = try runProgram([
                ready[0].python, "-c", "import sys, numpy; print(sys.prefix); print(numpy.__file__)",
            ])
            #expect(numpy.status == 0)
            let lines = numpy.output.split(separator: "\n").map(String.init)
            #expect(lines.first == prefix)
            #expect(lines.last?.hasPrefix(prefix + "/lib/python3.11/site-packages/numpy") == true)

            // The name now points at the prefix; asking again builds nothing.
            _ = try await second.prepare(spec)
            #expect(await second.buildsRun + first.buildsRun == 1)
        }
    }

    @Test("a changed spec is a new environment, the old one is left as it was")
    func changedSpecBuildsAnew() async throws {
        try await withTemporaryDirectory { directory in
            let store = try makeStore(root: directory)
            let one = try await store.prepare(try channelSpec(["shunter-probe 1.0"]))
            let two = try await store.prepare(try channelSpec(["shunter-probe 2.0"]))
            #expect(one.identity != two.identity)
            #expect(one.prefix != two.prefix)
            let oldOutput = try runProgram([one.prefix + "/bin/shunter-probe"], environment: one.activated([:])).output
            let newOutput = try runProgram([two.prefix + "/bin/shunter-probe"], environment: two.activated([:])).output
            #expect(oldOutput.contains("shunter-probe 1.0"))
            #expect(newOutput.contains("shunter-probe 2.0"))
            #expect(newOutput.contains(two.prefix))
            #expect(await store.buildsRun == 2)
        }
    }

    @Test("a spec that cannot be solved fails with the solver's message and keeps the log")
    func unsolvableSpecFails() async throws {
        try await withTemporaryDirectory { directory in
            let store = try makeStore(root: directory)
            let spec = try channelSpec(["python 3.11.*", "numpy 0.0.1"], name: "impossible")
            do {
                _ = try await store.prepare(spec)
                Issue.record("an unsolvable spec was built")
            } catch EnvironmentError.buildFailed(let label, let manager, let message, let log) {
                #expect(label == "impossible")
                #expect(manager == "rattler")
                #expect(message.contains("cannot be solved"))
                #expect(message.contains("numpy"))
                let logText = try String(contentsOfFile: log, encoding: .utf8)
                #expect(logText.contains("numpy 0.0.1"))
                #expect(logText.contains("FAILED"))
            }
            // Nothing half-built is left under a name, nor as a prefix.
            #expect(!FileManager.default.fileExists(atPath: "\(directory)/envs/\(spec.shortIdentity)"))
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/envs/.prefixes").isEmpty)
        }
    }

    @Test("a pip-only spec from conda-envs/ is a venv with real packages from PyPI")
    func venvFromPyPI() async throws {
        try await withTemporaryDirectory { directory in
            let store = try makeStore(root: directory, definitions: repositoryRoot + "/conda-envs")
            let requested = try #require(try store.spec(for: .init(condaEnvironment: "numpy-pip")))
            let ready = try await store.prepare(requested)
            #expect(ready.kind == .venv)
            #expect(FileManager.default.fileExists(atPath: ready.prefix + "/pyvenv.cfg"))
            let numpy = try runProgram([ready.python, "-c", "import numpy; print(numpy.__version__)"])
            #expect(numpy.output == "2.4.6\n")
            let variables = ready.activated(["PATH": "/usr/bin:/bin"])
            #expect(variables["PATH"] == ready.prefix + "/bin:/usr/bin:/bin")
            #expect(variables["VIRTUAL_ENV"] == ready.prefix)
            #expect(variables["CONDA_PREFIX"] == ready.prefix)
        }
    }

    @Test("an unknown name and a spec no manager can build say why")
    func explainedRefusals() async throws {
        try await withTemporaryDirectory { directory in
            let store = try makeStore(
                root: directory, definitions: repositoryRoot + "/conda-envs", managers: ["venv", "micromamba"])
            #expect(try store.spec(for: .init(condaEnvironment: "numpy-pi")) == nil)
            let unknown = store.unknown("numpy-pi").description
            #expect(unknown.contains("did you mean 'numpy-pip'"))
            do {
                _ = try await store.prepare(try channelSpec(["numpy"]))
                Issue.record("built without a suitable manager")
            } catch EnvironmentError.noManager(_, let reasons) {
                #expect(reasons.map(\.manager) == ["venv", "micromamba"])
                #expect(reasons[0].reason.contains("needs conda packages (numpy)"))
            }
        }
    }

    @Test("unused environments are removed after keep_unused, never while a job holds one")
    func unusedAreRemoved() async throws {
        try await withTemporaryDirectory { directory in
            let store = try makeStore(root: directory, keepUnused: .zero)
            var ready: ReadyEnvironment? = try await store.prepare(try channelSpec(["shunter-probe 1.0"]))
            let prefix = try #require(ready?.prefix)
            // A crashed build's leftovers: a prefix no name points at.
            let stale = "\(directory)/envs/.prefixes/0123456789abcdef-dead"
            try FileManager.default.createDirectory(atPath: stale, withIntermediateDirectories: true)
            try await Task.sleep(for: .milliseconds(20))

            #expect(store.removeUnused(now: Date().addingTimeInterval(10)).isEmpty)
            #expect(FileManager.default.fileExists(atPath: prefix + "/bin/shunter-probe"))
            #expect(!FileManager.default.fileExists(atPath: stale))

            ready = nil // the job ends
            _ = ready
            let removed = store.removeUnused(now: Date().addingTimeInterval(10))
            #expect(removed.count == 1)
            #expect(!FileManager.default.fileExists(atPath: prefix))
        }
    }

    @Test("conda, mamba and micromamba command lines")
    func condaCommandLines() {
        let micromamba = CondaCommandManager(tool: .micromamba, executable: "/opt/mm/bin/micromamba", searchPath: nil)
        #expect(
            micromamba.command(spec: "/w/environment.yml", prefix: "/e/p")
                == ["/opt/mm/bin/micromamba", "create", "--yes", "--prefix", "/e/p", "--file", "/w/environment.yml"])
        let conda = CondaCommandManager(tool: .conda, executable: "/opt/conda/bin/conda", searchPath: nil)
        #expect(
            conda.command(spec: "/w/environment.yml", prefix: "/e/p")
                == ["/opt/conda/bin/conda", "env", "create", "--prefix", "/e/p", "--file", "/w/environment.yml"])
        let absent = CondaCommandManager(tool: .mamba, searchPath: "/nonexistent")
        #expect(absent.executable == nil)
    }
}
