import Foundation
import ShunterCore
import ShunterTestSupport
import Testing

/// What a running broker exposes to its jobs and to other users: descriptors, file modes,
/// its environment, leftovers of interrupted writes. All on the real `shunter serve`.
@Suite("the broker process guards itself", .serialized)
struct BrokerProcessGuardTests {
    /// Mode bits of a path (the link itself, not what it points to).
    static func mode(_ path: String) -> mode_t? {
        var status = stat()
        return lstat(path, &status) == 0 ? status.st_mode & 0o7777 : nil
    }

    @Test("store, journal, work and lock files are owner-only; jobs keep the umask the broker was started with")
    func ownerOnlyFiles() async throws {
        let saved = umask(0o022)
        defer { umask(saved) }
        let broker = try BrokerProcess()
        try await broker.start()
        defer { broker.stop() }
        let ok = try await broker.get(
            "/run-transformation", body: try await broker.bashRequest("touch f; stat -c %a f > RESULT"))
        let result = try #require(try ok.json["result_checksum"]?.stringValue, "\(ok.text)")
        #expect(try await broker.get("/" + result).text == "644\n", "the job's own files are made with its umask (022)")
        let failed = try await broker.get("/run-transformation", body: try await broker.bashRequest("exit 3"))
        #expect(failed.status >= 400, "\(failed.text)")

        let root = broker.root + "/var"
        let buffers = root + "/buffers"
        let prefix = buffers + "/" + result.prefix(2)
        let work = root + "/work"
        let kept = try FileManager.default.contentsOfDirectory(atPath: work).filter { !$0.hasPrefix(".") }
        #expect(!kept.isEmpty, "the failed job's directory is kept")
        var paths = [
            root, root + "/journal.sqlite", root + "/journal.sqlite-wal", root + "/results.sqlite", buffers, prefix,
            prefix + "/" + result, work, root + "/journal.sqlite.lock", root + "/work.lock", root + "/buffers.lock",
        ]
        paths += kept.flatMap { [work + "/" + $0, work + "/" + $0 + "/stdout"] }
        for path in paths {
            let mode = try #require(Self.mode(path), "\(path) exists")
            #expect(mode & 0o077 == 0, "\(path) is \(String(mode, radix: 8)), readable by others")
        }
    }

    @Test("temporary files of buffer writes a killed broker left are removed at the next start")
    func interruptedWritesRemovedAtStart() async throws {
        let broker = try BrokerProcess()
        try await broker.start()
        let checksum = try await broker.upload(Array("kept\n".utf8))
        broker.killHard()
        let directory = broker.root + "/var/buffers/" + checksum.hex.prefix(2)
        let leftover = directory + "/" + String(repeating: "ab", count: 32) + "-Xy12Zq"
        let flat = broker.root + "/var/buffers/" + String(repeating: "cd", count: 32) + "-Q1w2E3"
        for path in [leftover, flat] {
            #expect(FileManager.default.createFile(atPath: path, contents: Data(repeating: 7, count: 100_000)))
        }
        try await broker.start()
        defer { broker.stop() }
        #expect(!FileManager.default.fileExists(atPath: leftover))
        #expect(!FileManager.default.fileExists(atPath: flat))
        #expect(try await broker.get("/" + checksum.hex).text == "kept\n", "stored buffers stay")
    }

    @Test("a job sees only descriptors 0, 1 and 2; the broker's own (listening socket included) are close-on-exec")
    func descriptors() async throws {
        let broker = try BrokerProcess()
        try await broker.start()
        defer { broker.stop() }
        let reply = try await broker.get(
            "/run-transformation",
            body: try await broker.bashRequest("ls /proc/$$/fd > fds; sort -n fds | tr '\\n' ' ' > RESULT"))
        let result = try #require(try reply.json["result_checksum"]?.stringValue, "\(reply.text)")
        let seen = try await broker.get("/" + result).text
        #expect(seen == "0 1 2 ", "the job's shell has descriptors \(seen)")

        let pid = try #require(broker.pid)
        let listening = try Self.listeningSocketInodes(port: broker.port)
        #expect(!listening.isEmpty, "the broker listens on \(broker.port)")
        var checked = 0
        for entry in try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") {
            guard let fd = Int(entry), fd > 2,
                let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(entry)"),
                let info = try? String(contentsOfFile: "/proc/\(pid)/fdinfo/\(entry)", encoding: .utf8)
            else { continue }
            // Connections accepted since the last sweep are marked at a crash (the guard's
            // signal handler) and by the housekeeping; every other descriptor is checked.
            if target.hasPrefix("socket:"), !listening.contains(where: { target == "socket:[\($0)]" }) { continue }
            let flagsLine = try #require(info.split(separator: "\n").first { $0.hasPrefix("flags:") })
            let flags = try #require(
                Int(flagsLine.dropFirst("flags:".count).trimmingCharacters(in: .whitespaces), radix: 8))
            #expect(flags & 0o2000000 != 0, "fd \(fd) (\(target)) of the broker is not close-on-exec")
            checked += 1
        }
        #expect(checked > 3, "the broker has its journal, store and listening socket open")
    }

    /// The inodes of the TCP sockets listening on `port` (from /proc/net/tcp and tcp6).
    static func listeningSocketInodes(port: Int) throws -> [String] {
        var inodes: [String] = []
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = try? String(contentsOfFile: table, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 9, fields[3] == "0A",
                    let local = fields[1].split(separator: ":").last, Int(local, radix: 16) == port
                else { continue }
                inodes.append(String(fields[9]))
            }
        }
        return inodes
    }

    @Test("a job of the broker's own user cannot read the broker's environment")
    func environmentIsNotReadable() async throws {
        try #require(geteuid() == 0, "this test starts the broker as nobody, which needs root")
        let broker = try BrokerProcess()
        // A broker that is not root: root reads any process's environment anyway.
        broker.launcher = ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        broker.extraEnvironment = ["SHUNTER_TEST_SECRET": "hunter2-\(UUID().uuidString)"]
        try Self.chownTree(broker.root, to: "nobody")
        try await broker.start()
        defer { broker.stop() }
        let reply = try await broker.get(
            "/run-transformation",
            body: try await broker.bashRequest(
                "id -un > who; if cat /proc/$PPID/environ > seen 2>/dev/null; then echo readable; else echo denied; fi > RESULT; "
                    + "cat who >> RESULT"))
        let result = try #require(try reply.json["result_checksum"]?.stringValue, "\(reply.text)")
        #expect(try await broker.get("/" + result).text == "denied\nnobody\n")
    }

    static func chownTree(_ path: String, to user: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/chown")
        process.arguments = ["-R", user, path]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestFailure("chown -R \(user) \(path) failed") }
    }

    @Test("as root, a handler with local.run_as nobody runs its jobs as nobody, end to end")
    func runAsNobody() async throws {
        try #require(geteuid() == 0, "run_as needs a broker running as root")
        let broker = try BrokerProcess(
            handlerYAML: """
                name: bash-nobody
                plugin: bash
                backend: local
                match: {language: bash}
                local: {run_as: nobody}
                """)
        try await broker.start()
        defer { broker.stop() }
        let reply = try await broker.get(
            "/run-transformation",
            body: try await broker.bashRequest("id -un > RESULT; cat a >> RESULT", inputs: ["a": (.int, .int(5))]))
        let result = try #require(try reply.json["result_checksum"]?.stringValue, "\(reply.text)")
        #expect(try await broker.get("/" + result).text == "nobody\n5\n")
    }

    @Test("a crashed broker's crash reporter does not get the listening socket: after kill -9 the port is free")
    func crashReporterInheritsNoSocket() async throws {
        let broker = try BrokerProcess()
        broker.extraEnvironment = ["SWIFT_BACKTRACE": "enable=yes,interactive=no"]
        try await broker.start()
        let pid = try #require(broker.pid)
        let listening = try Self.listeningSocketInodes(port: broker.port)
        #expect(!listening.isEmpty)
        kill(pid, SIGSEGV)
        // The runtime's handler starts swift-backtrace as the broker's child and waits for it.
        var reporter: pid_t?
        let deadline = ContinuousClock.now + .seconds(30)
        while reporter == nil {
            guard ContinuousClock.now < deadline, ProcessState.isRunning(pid) else {
                throw TestFailure("no crash reporter started under the crashed broker (pid \(pid))")
            }
            reporter = Self.children(of: pid).first
            if reporter == nil { try await Task.sleep(for: .milliseconds(10)) }
        }
        let reporterPID = try #require(reporter)
        // Whatever the crashed broker started is ended with the test.
        let started = Set(Self.children(of: pid) + [reporterPID])
        defer { for child in started { kill(child, SIGKILL) } }
        let held = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(reporterPID)/fd")) ?? []).compactMap
        {
            try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(reporterPID)/fd/\($0)")
        }
        broker.killHard()
        #expect(
            !held.contains { target in listening.contains { target == "socket:[\($0)]" } },
            "the crash reporter holds the listening socket: \(held)")
        #expect(try Self.listeningSocketInodes(port: broker.port).isEmpty, "nobody listens on the port after kill -9")
    }

    /// The pids whose parent is `pid`.
    static func children(of pid: pid_t) -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry -> pid_t? in
            guard let child = pid_t(entry),
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
            return fields.count > 1 && pid_t(fields[1]) == pid ? child : nil
        }
    }
}
