import Foundation
import ShunterBackends
import Synchronization
import Testing

@Suite("LocalBackend")
struct LocalBackendTests {
    /// A work directory and an execution of `script` with `bash -c` in it.
    struct Fixture {
        let directory: TemporaryDirectory
        var work: String { directory.path + "/work" }

        init() throws {
            directory = try TemporaryDirectory()
            try FileManager.default.createDirectory(atPath: directory.path + "/work", withIntermediateDirectories: true)
        }

        func execution(
            _ script: String, timeout: Duration? = nil, environment: [String: String] = ["PATH": "/usr/bin:/bin"]
        ) -> Execution {
            Execution(
                jobID: "t", handler: "test", workDirectory: work, command: ["/bin/bash", "-c", script],
                environment: environment, timeout: timeout,
                stdoutPath: directory.path + "/stdout", stderrPath: directory.path + "/stderr")
        }

        func pid(_ file: String) throws -> pid_t {
            let text = try String(contentsOfFile: work + "/" + file, encoding: .utf8)
            return try #require(pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)))
        }
    }

    static func isGone(_ pid: pid_t) -> Bool {
        kill(pid, 0) == -1 && errno == ESRCH
    }

    @Test("exit codes, signals, stdout and stderr to files, and the exact environment")
    func exitAndOutput() async throws {
        let fixture = try Fixture()
        defer { fixture.directory.cleanUp() }
        let backend = LocalBackend()
        let outcome = try await backend.run(
            fixture.execution(
                "echo \"out $X\"; echo err >&2; env | grep -c . > count; exit 7",
                environment: ["X": "é", "PATH": "/usr/bin:/bin"]),
            events: ExecutionEvents())
        #expect(outcome.termination == .exited(7))
        #expect(try String(contentsOfFile: fixture.directory.path + "/stdout", encoding: .utf8) == "out é\n")
        #expect(try String(contentsOfFile: fixture.directory.path + "/stderr", encoding: .utf8) == "err\n")
        // X and PATH, plus PWD, SHLVL and _ that bash sets itself.
        #expect(try String(contentsOfFile: fixture.work + "/count", encoding: .utf8) == "5\n")

        let killed = try await backend.run(fixture.execution("kill -9 $$"), events: ExecutionEvents())
        #expect(killed.termination == .signaled(9))
    }

    @Test("output files an earlier run left are emptied first: the job's output replaces theirs, never follows it")
    func outputFilesStartEmpty() async throws {
        let fixture = try Fixture()
        defer { fixture.directory.cleanUp() }
        let earlier = String(repeating: "earlier output\n", count: 1000)
        try earlier.write(toFile: fixture.directory.path + "/stdout", atomically: false, encoding: .utf8)
        try earlier.write(toFile: fixture.directory.path + "/stderr", atomically: false, encoding: .utf8)
        let outcome = try await LocalBackend().run(
            fixture.execution("echo out; echo err >&2"), events: ExecutionEvents())
        #expect(outcome.termination == .exited(0))
        #expect(try String(contentsOfFile: fixture.directory.path + "/stdout", encoding: .utf8) == "out\n")
        #expect(try String(contentsOfFile: fixture.directory.path + "/stderr", encoding: .utf8) == "err\n")
    }

    @Test("a command that cannot start is a launchFailed error")
    func launchFailure() async throws {
        let fixture = try Fixture()
        defer { fixture.directory.cleanUp() }
        var execution = fixture.execution("true")
        execution.command = ["/nonexistent/program"]
        await #expect(throws: BackendError.self) {
            _ = try await LocalBackend().run(execution, events: ExecutionEvents())
        }
    }

    /// Where the spawn returns before the child's exec (Linux), these failures are found only
    /// once the child has exited; they must still be launch errors, not exit status 127.
    @Test("a program the kernel cannot execute is a launchFailed error with the exec's reason")
    func execFailure() async throws {
        let fixture = try Fixture()
        defer { fixture.directory.cleanUp() }
        let program = fixture.directory.path + "/not-a-program"
        // Executable, but neither ELF nor `#!`: execve fails with ENOEXEC.
        try #require(
            FileManager.default.createFile(
                atPath: program, contents: Data([0x00, 0x01, 0x02, 0x03]), attributes: [.posixPermissions: 0o755]))
        var execution = fixture.execution("true")
        execution.command = [program]
        let error = await #expect(throws: BackendError.self) {
            _ = try await LocalBackend().run(execution, events: ExecutionEvents())
        }
        #expect("\(error.map { "\($0)" } ?? "")".contains(String(cString: strerror(ENOEXEC))))
    }

    @Test("a work directory that does not exist is a launchFailed error, not a job that ran elsewhere")
    func missingWorkDirectory() async throws {
        let fixture = try Fixture()
        defer { fixture.directory.cleanUp() }
        var execution = fixture.execution("touch ran-here")
        execution.workDirectory = fixture.directory.path + "/no-such-directory"
        let error = await #expect(throws: BackendError.self) {
            _ = try await LocalBackend().run(execution, events: ExecutionEvents())
        }
        #expect("\(error.map { "\($0)" } ?? "")".contains(String(cString: strerror(ENOENT))))
        #expect(!FileManager.default.fileExists(atPath: fixture.directory.path + "/ran-here"))
        #expect(!FileManager.default.fileExists(atPath: fixture.work + "/ran-here"))
    }

    /// A failing `started` makes the backend stop the job at once, before the child may have
    /// reached its `setsid`: its process group may not exist yet, and the TERM must reach the
    /// child anyway. With every thread of the test process on one CPU the child (which inherits
    /// that) cannot run before the spawning thread sends the TERM, so the window is hit every
    /// time. A TERM that went nowhere would leave each job to the KILL after the 20 s grace,
    /// which runs the test past its time limit.
    @Test(
        "a job stopped right after its spawn gets the TERM even before it leads its own group", .timeLimit(.minutes(1)))
    func stoppedRightAfterSpawn() async throws {
        struct Refused: Error {}
        let fixture = try Fixture()
        defer { fixture.directory.cleanUp() }
        let restore = try OneCPU.pinEveryThread()
        defer { restore() }
        let backend = LocalBackend(killGrace: .seconds(20))
        let pids = Mutex<[pid_t]>([])
        for _ in 0..<20 {
            let events = ExecutionEvents(started: { externalID in
                if let pid = externalID.split(separator: ":").dropFirst(2).first.flatMap({ pid_t($0) }) {
                    pids.withLock { $0.append(pid) }
                }
                throw Refused()
            })
            await #expect(throws: Refused.self) {
                _ = try await backend.run(fixture.execution("sleep 1000"), events: events)
            }
        }
        let stopped = pids.withLock { $0 }
        #expect(stopped.count == 20)
        for pid in stopped { #expect(Self.isGone(pid), "job \(pid) survived its stop") }
    }

    @Test(
        "a job starts clean: leader of its own session, stdin /dev/null, no inherited descriptor, no signal ignored or blocked"
    )
    func cleanStart() async throws {
        let fixture = try Fixture()
        defer { fixture.directory.cleanUp() }
        // What a broker typically has that a job must not inherit: an ignored SIGPIPE and a
        // descriptor opened without close-on-exec.
        let previous = signal(SIGPIPE, SIG_IGN)
        defer { signal(SIGPIPE, previous) }
        let leaked = open("/dev/zero", O_RDONLY)
        try #require(leaked >= 0)
        defer { close(leaked) }
        let script = """
            read -r pid _ _ _ pgid sid _ < /proc/$$/stat; echo "$pid $pgid $sid" > session
            readlink /proc/$$/fd/0 > stdin
            ls /proc/$$/fd > fds
            yes | head -n 1 > /dev/null; echo "${PIPESTATUS[0]}" > yes-status
            """
        let outcome = try await LocalBackend().run(fixture.execution(script), events: ExecutionEvents())
        #expect(outcome.termination == .exited(0))
        func read(_ name: String) throws -> String {
            try String(contentsOfFile: fixture.work + "/" + name, encoding: .utf8)
        }
        let ids = try read("session").split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        #expect(ids.count == 3 && Set(ids).count == 1, "pid, process group and session differ: \(ids)")
        let stdin = try read("stdin")
        let yes = try read("yes-status")
        #expect(stdin == "/dev/null\n")
        // Without a pipeline: bash holds a pipeline's pipes while it starts its stages.
        let fds = try read("fds").split(separator: "\n").compactMap { Int($0) }.sorted()
        #expect(fds == [0, 1, 2], "descriptor \(leaked) or another leaked into the job")
        // 141 = killed by SIGPIPE, as in a terminal; an inherited SIG_IGN would make `yes` fail with EPIPE (1).
        #expect(yes == "141\n")

        // Read by the job's first process itself (bash would show what it blocks and ignores).
        var direct = fixture.execution("")
        direct.command = ["/bin/grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"]
        #expect(try await LocalBackend().run(direct, events: ExecutionEvents()).termination == .exited(0))
        let signals = try String(contentsOfFile: fixture.directory.path + "/stdout", encoding: .utf8)
        #expect(signals == "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n")
    }

    @Test("the identity reported at start names the job's process: boot id, pid and start time from /proc")
    func startedIdentity() async throws {
        let fixture = try Fixture()
        defer { fixture.directory.cleanUp() }
        let seen = Mutex<(reported: String, stat: String)?>(nil)
        let events = ExecutionEvents(started: { externalID in
            let parts = externalID.split(separator: ":")
            let stat = parts.count == 4 ? (try? String(contentsOfFile: "/proc/\(parts[2])/stat", encoding: .utf8)) : nil
            seen.withLock { $0 = (externalID, stat ?? "") }
        })
        _ = try await LocalBackend().run(fixture.execution("sleep 0.1"), events: events)
        let (reported, stat) = try #require(seen.withLock { $0 })
        let parts = reported.split(separator: ":").map(String.init)
        try #require(parts.count == 4, "\(reported)")
        let bootID = try String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)
        #expect(parts[0] == "local")
        #expect(parts[1] == bootID.trimmingCharacters(in: .whitespacesAndNewlines))
        // Field 22 of /proc/PID/stat, counted after the command name in parentheses.
        let fields = stat[stat.index(after: try #require(stat.lastIndex(of: ")")))...].split(separator: " ")
        #expect(stat.hasPrefix(parts[2] + " ("), "\(stat)")
        #expect(fields.count > 19 && String(fields[19]) == parts[3], "\(stat)")
    }

    @Test("while a job runs, the broker holds no descriptor of its output files")
    func outputDescriptorsClosed() async throws {
        let fixture = try Fixture()
        defer { fixture.directory.cleanUp() }
        let outputs = [fixture.directory.path + "/stdout", fixture.directory.path + "/stderr"]
        let held = Mutex<[String]?>(nil)
        let events = ExecutionEvents(started: { _ in
            let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
            let targets = descriptors.compactMap {
                try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0)
            }
            held.withLock { $0 = targets.filter { outputs.contains($0) } }
        })
        let outcome = try await LocalBackend().run(fixture.execution("sleep 0.2"), events: events)
        #expect(outcome.termination == .exited(0))
        #expect(held.withLock { $0 } == [], "still open in the broker: \(held.withLock { $0 } ?? [])")
    }

    @Test("a command name is looked up in the job's own PATH; one found nowhere is a launchFailed error naming PATH")
    func pathLookup() async throws {
        let fixture = try Fixture()
        defer { fixture.directory.cleanUp() }
        let tools = fixture.directory.path + "/tools"
        try FileManager.default.createDirectory(atPath: tools, withIntermediateDirectories: true)
        // A link to env rather than a script written here: a file just written can still be open
        // for writing in a process that another test is starting (fork/vfork before exec), and
        // exec'ing it would then fail with "text file busy".
        try FileManager.default.createSymbolicLink(
            atPath: tools + "/shunter-test-tool", withDestinationPath: "/usr/bin/env")
        var execution = fixture.execution("true", environment: ["PATH": "/nonexistent:\(tools):/usr/bin:/bin"])
        execution.command = ["shunter-test-tool", "/bin/sh", "-c", "echo from-tools > found"]
        let outcome = try await LocalBackend().run(execution, events: ExecutionEvents())
        #expect(outcome.termination == .exited(0))
        #expect(try String(contentsOfFile: fixture.work + "/found", encoding: .utf8) == "from-tools\n")

        execution.environment = ["PATH": "/usr/bin:/bin"]
        do {
            _ = try await LocalBackend().run(execution, events: ExecutionEvents())
            Issue.record("a program outside PATH started")
        } catch let error as BackendError {
            #expect("\(error)".contains("/usr/bin:/bin"), "\(error)")
        }
    }

    @Test("a timeout stops the whole process group, grandchildren and TERM-ignoring ones included, leaving no zombie")
    func timeoutKillsGroup() async throws {
        let fixture = try Fixture()
        defer { fixture.directory.cleanUp() }
        let backend = LocalBackend(killGrace: .milliseconds(300))
        let script = """
            sleep 1000 & echo $! > background.pid
            (trap '' TERM; sleep 1000 & echo $! > stubborn-child.pid; wait) & echo $! > stubborn.pid
            bash -c 'sleep 1000' & echo $! > subshell.pid
            sleep 1000
            """
        let started = ContinuousClock.now
        let outcome = try await backend.run(
            fixture.execution(script, timeout: .milliseconds(400)), events: ExecutionEvents())
        // A lower bound only (it holds on any machine): the processes would run for 1000 s, so
        // the outcome and the pids below say the timeout stopped them.
        #expect(ContinuousClock.now - started >= .milliseconds(400))
        #expect(outcome.termination == .timedOut(.milliseconds(400)))
        for file in ["background.pid", "stubborn.pid", "stubborn-child.pid", "subshell.pid"] {
            let pid = try fixture.pid(file)
            #expect(Self.isGone(pid), "\(file): process \(pid) survived the timeout")
        }
    }

    @Test("cancelling the task stops the whole process group and throws CancellationError")
    func cancellationKillsGroup() async throws {
        let fixture = try Fixture()
        defer { fixture.directory.cleanUp() }
        let backend = LocalBackend(killGrace: .milliseconds(300))
        let execution = fixture.execution("sleep 1000 & echo $! > background.pid; sleep 1000")
        let task = Task { try await backend.run(execution, events: ExecutionEvents()) }
        // Waits until the job has started its grandchild and written its whole pid (the file
        // exists before `echo`'s one write fills it).
        var grandchild: pid_t?
        while grandchild == nil {
            let text = (try? String(contentsOfFile: fixture.work + "/background.pid", encoding: .utf8)) ?? ""
            grandchild = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
            if grandchild == nil { try await Task.sleep(for: .milliseconds(10)) }
        }
        // The job sleeps for 1000 s: `run` returning at all says the cancel stopped it.
        task.cancel()
        await #expect(throws: CancellationError.self) { _ = try await task.value }
        #expect(Self.isGone(grandchild!), "background process \(grandchild!) survived the cancel")
    }

    @Test("a job cancelled while it starts is still stopped", .timeLimit(.minutes(1)))
    func cancelledWhileStarting() async throws {
        let fixture = try Fixture()
        defer { fixture.directory.cleanUp() }
        let backend = LocalBackend(killGrace: .milliseconds(300))
        for _ in 0..<5 {
            let task = Task { try await backend.run(fixture.execution("sleep 1000"), events: ExecutionEvents()) }
            task.cancel()
            // `sleep 1000`: returning at all says the cancel stopped it.
            await #expect(throws: CancellationError.self) { _ = try await task.value }
        }
    }

    @Test("after a normal exit, what the job left running in its group is stopped too")
    func stragglersAfterExit() async throws {
        let fixture = try Fixture()
        defer { fixture.directory.cleanUp() }
        let backend = LocalBackend(killGrace: .milliseconds(300))
        // setsid-less nohup-style leftover that outlives the shell.
        let outcome = try await backend.run(
            fixture.execution("(trap '' TERM HUP; exec sleep 1000) & echo $! > left.pid; disown; exit 0"),
            events: ExecutionEvents())
        #expect(outcome.termination == .exited(0))
        let pid = try fixture.pid("left.pid")
        #expect(Self.isGone(pid), "left-over process \(pid) survived the job")
    }

    /// The per-job cost of LocalBackend for a trivial job, against the same spawns from a
    /// shell loop. Printed for the record; the bound only catches a gross regression.
    @Test("launch overhead of trivial jobs, sequential and 8 concurrent")
    func launchOverhead() async throws {
        let fixture = try Fixture()
        defer { fixture.directory.cleanUp() }
        let backend = LocalBackend()
        let count = 500
        func execution(_ index: Int) throws -> Execution {
            let directory = fixture.directory.path + "/j\(index)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
            return Execution(
                jobID: "\(index)", handler: "bench", workDirectory: directory,
                command: ["/bin/bash", "-c", "echo 1 > RESULT"],
                environment: ["PATH": "/usr/bin:/bin"], stdoutPath: directory + ".out", stderrPath: directory + ".err")
        }
        var started = ContinuousClock.now
        for index in 0..<count {
            let outcome = try await backend.run(try execution(index), events: ExecutionEvents())
            #expect(outcome.succeeded)
        }
        let sequential = (ContinuousClock.now - started) / count
        started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for index in stride(from: count + worker, to: 2 * count, by: 8) {
                        let outcome = try await backend.run(try execution(index), events: ExecutionEvents())
                        #expect(outcome.succeeded)
                    }
                }
            }
            try await group.waitForAll()
        }
        let concurrent = (ContinuousClock.now - started) / count
        print("LocalBackend per trivial job: sequential \(sequential), 8 concurrent \(concurrent)")
        #expect(FileManager.default.fileExists(atPath: fixture.directory.path + "/j0/RESULT"))
    }
}

/// Puts every thread of this process on one CPU (util-linux's `taskset -a`; Glibc's module does
/// not export sched_setaffinity), and gives back a closure that restores the previous mask.
enum OneCPU {
    static func pinEveryThread() throws -> () -> Void {
        let pid = "\(getpid())"
        // "pid 123's current affinity mask: 3"
        let shown = try taskset(["-p", pid])
        let mask = try #require(shown.split(separator: " ").last.map(String.init), "taskset printed \(shown)")
        let cpu = try #require(
            try taskset(["-c", "-p", pid]).split(separator: " ").last?.split(separator: ",").first?
                .split(separator: "-").first.map(String.init))
        _ = try taskset(["-a", "-c", "-p", cpu, pid])
        return { _ = try? taskset(["-a", "-p", mask, pid]) }
    }

    private static func taskset(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/taskset")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "taskset \(arguments) failed")
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
