import Foundation
import ShunterCore
import ShunterTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Warm Python parents of a real `shunter serve`: listed in `GET /status`, and gone with the
/// broker, `kill -9` included, with the jobs they ran run again after the restart.
@Suite("shunter serve: warm Python parents", .serialized)
struct WarmParentProcessTests {
    static func broker() throws -> BrokerProcess {
        let python = PythonServer.packageRoot().path + "/.venv-seamless/bin/python"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw TestFailure("\(python) is missing: run bash scripts/setup-seamless-venv.sh")
        }
        return try BrokerProcess(
            handlerYAML: """
                name: python-local
                plugin: python
                backend: local
                match: {language: python}
                limits: {max_jobs: 2, timeout: 5m}
                python: {interpreter: \(python)}
                """)
    }

    /// A jobserver request for Python `code` (a block assigning `result`, a str).
    static func pythonRequest(_ broker: BrokerProcess, _ code: String) async throws -> [UInt8] {
        let checksum = try await broker.upload(Array((code + "\n").utf8))
        let dict: [String: JSONValue] = [
            "__language__": .string("python"), "__output__": .array([.string("result"), .string("str"), .null]),
            "code": .array([.string("python"), .string("transformer"), .string(checksum.hex)]),
        ]
        return CanonicalJSON.encodeCompact(.object(["transformation_dict": .object(dict)]))
    }

    @Test("GET /status lists the warm parent with its memory")
    func statusListsWarmParents() async throws {
        let broker = try Self.broker()
        try await broker.start()
        defer { broker.stop() }
        let request = try await Self.pythonRequest(broker, "import os\nresult = str(os.getppid())")
        let reply = try await broker.get("/run-transformation", body: request)
        #expect(reply.status == 200, "\(reply.text)")
        let result = try #require(try reply.json["result_checksum"]?.stringValue)
        let parent = try await broker.get("/" + result).text
        let status = try await broker.get("/status").json
        let parents = try #require(status["warm_parents"]?.arrayValue)
        #expect(parents.count == 1, "\(status)")
        let entry = try #require(parents.first)
        #expect(parent == "\"\(entry["pid"]?.int64 ?? -1)\"\n", "the job was forked by the listed parent: \(entry)")
        #expect(entry["kind"]?.stringValue == "python")
        #expect((entry["resident_bytes"]?.int64 ?? 0) > 1 << 20, "\(entry)")
    }

    @Test("kill -9 of the broker: no warm parent or job of the old broker remains; the jobs run again and end once")
    func killNineLeavesNoWarmProcess() async throws {
        let broker = try Self.broker()
        try await broker.start()
        var jobs: [(id: String, marker: String)] = []
        for index in 0..<2 {
            let marker = broker.root + "/first-attempt-\(index)"
            // The first attempt records its pid and its parent's and hangs; the re-run ends at once.
            let code = """
                import os, subprocess, time
                if os.path.exists(\(String(reflecting: marker))):
                    result = "second \(index)"
                else:
                    child = subprocess.Popen(["sleep", "3600"])
                    with open(\(String(reflecting: marker + ".part")), "w") as f:
                        f.write(f"{os.getpid()} {os.getppid()} {child.pid}")
                    os.rename(\(String(reflecting: marker + ".part")), \(String(reflecting: marker)))
                    time.sleep(3600)
                """
            let reply = try await broker.post("/jobs", body: try await Self.pythonRequest(broker, code))
            #expect(reply.status == 202, "\(reply.text)")
            jobs.append((try #require(try reply.json["id"]?.stringValue), marker))
        }
        var processes: [pid_t] = []
        for job in jobs {
            try await waitUntilFile(job.marker, timeout: .seconds(300))
            let pids = try String(contentsOfFile: job.marker, encoding: .utf8).split(separator: " ").compactMap {
                pid_t($0)
            }
            #expect(pids.count == 3)
            processes += pids
        }
        let warmParent = processes[1]
        #expect(processes[4] == warmParent, "both jobs were forked by one warm parent")
        #expect(Set(processes).allSatisfy(ProcessState.isRunning))

        broker.killHard()
        // The warm parent reads end of file on its control socket, kills its jobs' process
        // groups and exits: wait for each to go (pidfd: readable once the process has ended).
        for pid in Set(processes) { waitForExit(pid) }
        #expect(Set(processes).allSatisfy { !ProcessState.isRunning($0) })

        try await broker.start()
        defer { broker.stop() }
        for (index, job) in jobs.enumerated() {
            let reply = try await broker.get("/jobs/\(job.id)/wait?timeout=300")
            let record = try reply.json
            #expect(record["state"]?.stringValue == "succeeded", "\(job.id): \(reply.text)")
            let result = try #require(record["result"]?.stringValue)
            #expect(try await broker.get("/" + result).text == "\"second \(index)\"\n")
            #expect(record["attempts"]?.int64 == 2, "\(reply.text)")
        }
        #expect(try await broker.get("/jobs?limit=100").json.arrayValue?.count == 2, "no job lost, none duplicated")
    }

    @Test(
        "kill -9 of the broker while the warm parent holds a child forked ahead for the next job: that child goes too")
    func killNineTakesTheChildForkedAhead() async throws {
        let broker = try Self.broker()
        try await broker.start()
        defer { broker.stop() }
        let reply = try await broker.get(
            "/run-transformation", body: try await Self.pythonRequest(broker, "import os\nresult = str(os.getppid())"))
        #expect(reply.status == 200, "\(reply.text)")
        let result = try #require(try reply.json["result_checksum"]?.stringValue)
        let parentText = try await broker.get("/" + result).text
        let parent = try #require(pid_t(parentText.trimmingCharacters(in: CharacterSet(charactersIn: "\"\n"))))
        // The parent forks the next job's child once a job has ended, after it reported the end.
        var ahead: [pid_t] = []
        let deadline = ContinuousClock.now + .seconds(60)
        while ahead.isEmpty {
            ahead = children(of: parent)
            if ahead.isEmpty {
                guard ContinuousClock.now < deadline else {
                    throw TestFailure("warm parent \(parent) forked no child ahead")
                }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        #expect(ahead.count == 1, "one child waits for the next job: \(ahead)")
        broker.killHard()
        for pid in ahead + [parent] { waitForExit(pid) }
        #expect(!ProcessState.isRunning(parent))
        #expect(ahead.allSatisfy { !ProcessState.isRunning($0) }, "the child forked ahead is gone")
    }

    /// The live children of `pid` (Linux's /proc/<pid>/task/<pid>/children).
    func children(of pid: pid_t) -> [pid_t] {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
        return text.split(separator: " ").compactMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            .filter(ProcessState.isRunning)
    }

    /// Blocks until `pid` has exited (or is already gone).
    func waitForExit(_ pid: pid_t) {
        // pidfd_open is system call 434 on every Linux architecture (the unified numbering);
        // `syscall` is variadic, so it is called through a fixed signature of integer arguments.
        typealias Syscall = @convention(c) (Int, Int, Int) -> Int
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "syscall") else { return }
        let descriptor = Int32(truncatingIfNeeded: unsafeBitCast(symbol, to: Syscall.self)(434, Int(pid), 0))
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        while poll(&poller, 1, -1) < 0 && errno == EINTR {}
    }
}

extension JSONValue {
    fileprivate var int64: Int64? {
        if case .int(let value) = self { return value }
        return nil
    }
}
