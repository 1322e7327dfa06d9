import Foundation
import ShunterBackends
import ShunterCore
import ShunterHandlers
import ShunterPlugins
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Python jobs forked from a warm parent (real interpreters, real Seamless): every job sees a
/// pristine interpreter, a crash or a stop takes the job's processes and never the parent.
@Suite("Warm Python jobs", .serialized)
struct WarmPythonJobTests {
    /// What a job sees of the state an earlier job could have left (a mixed result).
    static let probe = """
        import json, os, sys, threading
        result = {
            "parent": os.getppid(),
            "leak_global": hasattr(json, "LEAKED"),
            "leak_module": "shunter_leak" in sys.modules,
            "leak_env": os.environ.get("SHUNTER_LEAK"),
            "cwd_is_work": os.getcwd().endswith("/work"),
            "leak_path": "/shunter/leak" in sys.path,
            "patched": json.dumps([1]) != "[1]",
            "threads": threading.active_count(),
            "tasks": len(os.listdir("/proc/self/task")),
            "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
        }
        """

    static let pristine: [String: JSONValue] = [
        "leak_global": .bool(false), "leak_module": .bool(false), "leak_env": .null, "cwd_is_work": .bool(true),
        "leak_path": .bool(false), "patched": .bool(false), "threads": .int(1), "tasks": .int(1),
    ]

    func probe(_ harness: PythonJobHarness) async throws -> [String: JSONValue] {
        let transformation = try await harness.transformation(
            code: Self.probe + "\n# \(UUID().uuidString)", output: "plain")
        let buffer = try await harness.run(harness.context(transformation))
        return try #require(JSONParser.parse(buffer).objectValue)
    }

    func warmParentPIDs() -> Set<Int64> {
        Set(WarmParents.shared.status().filter { $0.ready }.map { Int64($0.pid) })
    }

    @Test func aJobLeavesNothingBehindForTheNextOnTheSameWarmParent() async throws {
        let harness = try PythonJobHarness()
        defer { harness.cleanUp() }
        let before = try await probe(harness)
        let parent = try #require(before["parent"]?.intValue)
        #expect(warmParentPIDs().contains(parent), "the job was forked by a warm parent")
        for (key, value) in Self.pristine { #expect(before[key] == value, "\(key)") }

        let spoil = try await harness.transformation(
            code: """
                import json, os, sys, threading, time, types
                json.LEAKED = 1
                sys.modules["shunter_leak"] = types.ModuleType("shunter_leak")
                os.environ["SHUNTER_LEAK"] = "1"
                os.chdir("/")
                sys.path.append("/shunter/leak")
                json.dumps = lambda *args, **kwargs: "patched"
                threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
                kept = open("/dev/null")
                result = os.getppid()
                """, output: "plain")
        let spoiler = try await harness.run(harness.context(spoil))
        #expect(try JSONParser.parse(spoiler).intValue == parent, "the spoiling job ran on the same warm parent")

        for _ in 0..<3 {
            let after = try await probe(harness)
            #expect(after["parent"]?.intValue == parent)
            for (key, value) in Self.pristine { #expect(after[key] == value, "\(key) after a job that changed it") }
            #expect(after["fds"] == before["fds"], "open descriptors")
        }
    }

    @Test func eachJobHasItsOwnRandomState() async throws {
        let harness = try PythonJobHarness()
        defer { harness.cleanUp() }
        var seen: Set<String> = []
        for _ in 0..<3 {
            let transformation = try await harness.transformation(
                code:
                    "import random, numpy\nresult = [random.random(), float(numpy.random.random())]\n# \(UUID().uuidString)"
            )
            seen.insert(String(decoding: try await harness.run(harness.context(transformation)), as: UTF8.self))
        }
        #expect(seen.count == 3, "forked children must not share the parent's generators: \(seen)")
    }

    @Test(arguments: [
        ("import os\nos.abort()", "killed by signal 6"),
        ("import ctypes\nctypes.string_at(0)", "killed by signal 11"),
        ("import os\nos._exit(7)", "(exit code 7) before it could report"),
    ])
    func aCrashingJobFailsClearlyAndTheNextRuns(code: String, expected: String) async throws {
        let harness = try PythonJobHarness()
        defer { harness.cleanUp() }
        let parent = try #require(try await probe(harness)["parent"]?.intValue)
        let crash = try await harness.transformation(code: code + "\n# \(UUID().uuidString)")
        await #expect {
            _ = try await harness.run(harness.context(crash))
        } throws: { error in
            guard let failure = error as? JobFailure else { return false }
            return failure.message.contains(expected)
        }
        #expect(kill(pid_t(parent), 0) == 0, "the warm parent is alive")
        #expect(try await probe(harness)["parent"]?.intValue == parent, "the next job runs on the same parent")
    }

    /// Runs `code` (which must start `sleep 3600` and write its pid to the FIFO `$FIFO`), and
    /// returns the job's pid and its grandchild's once both run.
    func runningJob(
        _ harness: PythonJobHarness, fifo: String, timeout: Duration?
    ) async throws -> (task: Task<[UInt8], any Error>, pid: pid_t, grandchild: pid_t) {
        let code = """
            import subprocess, time
            child = subprocess.Popen(["sleep", "3600"])
            with open(\(String(reflecting: fifo)), "w") as f:
                f.write(str(child.pid))
            time.sleep(3600)
            result = 1
            """
        let transformation = try await harness.transformation(code: code + "\n# \(UUID().uuidString)")
        let job = harness.context(transformation, timeout: timeout)
        let (started, startedContinuation) = AsyncStream.makeStream(of: String.self)
        let task = Task {
            let prepared = try await harness.plugin.prepare(job)
            let outcome = try await harness.backend.run(
                prepared.execution, events: ExecutionEvents(started: { startedContinuation.yield($0) }))
            return try await harness.plugin.collect(job, prepared: prepared, outcome: outcome)
        }
        // Blocks until the job opens the FIFO: the grandchild runs by then.
        let grandchild = try await Task.detached {
            let descriptor = open(fifo, O_RDONLY | O_CLOEXEC)
            try #require(descriptor >= 0)
            defer { close(descriptor) }
            var text: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 64)
            while true {
                let count = read(descriptor, &buffer, buffer.count)
                if count <= 0 { break }
                text += buffer[0..<count]
            }
            return try #require(pid_t(String(decoding: text, as: UTF8.self)))
        }.value
        var iterator = started.makeAsyncIterator()
        let externalID = try #require(await iterator.next())
        let pid = try #require(externalID.split(separator: ":").dropLast().last.flatMap { pid_t($0) })
        return (task, pid, grandchild)
    }

    func fifo(in harness: PythonJobHarness) throws -> String {
        let path = harness.root.path + "/fifo-" + UUID().uuidString
        #expect(mkfifo(path, 0o600) == 0)
        return path
    }

    @Test func cancellingAJobEndsItsProcessTreeAndNotTheWarmParent() async throws {
        let harness = try PythonJobHarness()
        defer { harness.cleanUp() }
        let parent = try #require(try await probe(harness)["parent"]?.intValue)
        let job = try await runningJob(harness, fifo: try fifo(in: harness), timeout: nil)
        #expect(kill(job.pid, 0) == 0 && kill(job.grandchild, 0) == 0)
        job.task.cancel()
        await #expect(throws: CancellationError.self) { _ = try await job.task.value }
        #expect(kill(job.pid, 0) == -1 && errno == ESRCH, "the job's process is gone")
        #expect(kill(job.grandchild, 0) == -1 && errno == ESRCH, "the process the job started is gone")
        #expect(kill(pid_t(parent), 0) == 0, "the warm parent is alive")
        #expect(try await probe(harness)["parent"]?.intValue == parent)
    }

    @Test func aJobPastItsTimeoutEndsWithItsProcessTreeAndNotTheWarmParent() async throws {
        let harness = try PythonJobHarness()
        defer { harness.cleanUp() }
        let parent = try #require(try await probe(harness)["parent"]?.intValue)
        let job = try await runningJob(harness, fifo: try fifo(in: harness), timeout: .seconds(1))
        await #expect {
            _ = try await job.task.value
        } throws: { error in
            (error as? JobFailure)?.message.hasPrefix("Timeout: the job ran longer than 1") == true
        }
        #expect(kill(job.pid, 0) == -1 && errno == ESRCH, "the job's process is gone")
        #expect(kill(job.grandchild, 0) == -1 && errno == ESRCH, "the process the job started is gone")
        #expect(kill(pid_t(parent), 0) == 0, "the warm parent is alive")
        #expect(try await probe(harness)["parent"]?.intValue == parent)
    }

    /// The parent runs the runner's code compiled once, under the job's own path: every frame
    /// of the runner a transformation sees names the job's runner.py, as in a cold run.
    @Test func theRunnerRunsUnderTheJobsOwnPath() async throws {
        let harness = try PythonJobHarness()
        defer { harness.cleanUp() }
        let transformation = try await harness.transformation(
            code: """
                import os, sys
                frame, files = sys._getframe(), []
                while frame is not None:
                    files.append(frame.f_code.co_filename)
                    frame = frame.f_back
                result = {"runner": os.path.join(os.path.dirname(os.getcwd()), "python", "runner.py"),
                          "files": [f for f in files if f.endswith("runner.py")], "main": sys.modules["__main__"].__file__}
                # \(UUID().uuidString)
                """, output: "plain")
        let report = try #require(JSONParser.parse(try await harness.run(harness.context(transformation))).objectValue)
        let runner = try #require(report["runner"])
        let files = try #require(report["files"]?.arrayValue)
        #expect(!files.isEmpty, "the runner's frames are on the stack: \(report)")
        #expect(files.allSatisfy { $0 == runner }, "\(report)")
        #expect(report["main"] == runner)
    }

    /// A job directory whose runner.py is not the text the parent was started with (edited by
    /// hand) runs its own file, compiled in the child.
    @Test func anEditedRunnerIsTheOneThatRuns() async throws {
        let harness = try PythonJobHarness()
        defer { harness.cleanUp() }
        _ = try await probe(harness) // the parent is up
        let transformation = try await harness.transformation(code: "result = 1\n# \(UUID().uuidString)")
        let job = harness.context(transformation)
        let prepared = try await harness.plugin.prepare(job)
        let python = prepared.workDirectory + "/python"
        try Data(
            """
            import os, sys
            with open(os.path.join(sys.argv[1], "result"), "wb") as f:
                f.write(b"edited " + __file__.encode())
            os._exit(0)
            """.utf8
        ).write(to: URL(fileURLWithPath: python + "/runner.py"))
        let outcome = try await harness.backend.run(prepared.execution, events: ExecutionEvents())
        let result = try await harness.plugin.collect(job, prepared: prepared, outcome: outcome)
        #expect(String(decoding: result, as: UTF8.self) == "edited " + python + "/runner.py")
    }

    /// A child that cannot take its job's files fails the job as a launch failure that says
    /// why; the parent and the next job are unaffected.
    @Test func aChildThatCannotOpenTheJobsFilesFailsThatJobOnly() async throws {
        let harness = try PythonJobHarness()
        defer { harness.cleanUp() }
        let parent = try #require(try await probe(harness)["parent"]?.intValue)
        let transformation = try await harness.transformation(code: "result = 1\n# \(UUID().uuidString)")
        let job = harness.context(transformation)
        let prepared = try await harness.plugin.prepare(job)
        try? FileManager.default.removeItem(atPath: prepared.execution.stdoutPath)
        try FileManager.default.createDirectory(
            atPath: prepared.execution.stdoutPath, withIntermediateDirectories: false)
        await #expect {
            _ = try await harness.backend.run(prepared.execution, events: ExecutionEvents())
        } throws: { error in
            guard case .launchFailed(_, let reason) = error as? BackendError else { return false }
            return reason.contains("could not be set up") && reason.contains("Is a directory")
        }
        #expect(kill(pid_t(parent), 0) == 0, "the warm parent is alive")
        #expect(try await probe(harness)["parent"]?.intValue == parent, "the next job runs on the same parent")
    }

    @Test func aDeadWarmParentIsReplacedForTheNextJob() async throws {
        var harness = try PythonJobHarness()
        defer { harness.cleanUp() }
        // A parent of its own (the environment is part of its key): other suites' jobs run on
        // the shared one meanwhile, and would die with it.
        harness.plugin.inheritedEnvironment["SHUNTER_TEST_OWN_PARENT"] = UUID().uuidString
        let parent = try #require(try await probe(harness)["parent"]?.intValue)
        #expect(kill(pid_t(parent), SIGKILL) == 0)
        // The next job either finds the parent already gone (and starts another) or is the one
        // that learns of it; in both cases it runs on a new parent.
        let next = try #require(try await probe(harness)["parent"]?.intValue)
        #expect(next != parent)
        #expect(!warmParentPIDs().contains(parent))
    }

    @Test func warmOffRunsEveryJobInItsOwnInterpreter() async throws {
        var harness = try PythonJobHarness()
        defer { harness.cleanUp() }
        harness.plugin.warm = nil
        let report = try await probe(harness)
        #expect(report["parent"]?.intValue.map { warmParentPIDs().contains($0) } == false)
    }
}

extension JSONValue {
    fileprivate var intValue: Int64? {
        if case .int(let value) = self { return value }
        return nil
    }
}
