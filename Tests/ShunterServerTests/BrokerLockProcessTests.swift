import Foundation
import ShunterCore
import ShunterStore
import ShunterTestSupport
import Testing

@Suite("one broker per journal and store", .serialized)
struct BrokerLockProcessTests {
    @Test("a second shunter serve on the same store is refused, naming the first, and the first's job runs on")
    func secondBrokerIsRefused() async throws {
        let broker = try BrokerProcess()
        try await broker.start()
        defer { broker.stop() }
        let firstPID = try #require(broker.pid)
        let started = broker.root + "/started"
        let release = broker.root + "/release"
        let request = try await broker.bashRequest(
            "touch \(started); while [ ! -e \(release) ]; do sleep 0.05; done; echo done > RESULT")
        let submitted = try await broker.post("/jobs", body: request)
        let id = try #require(try submitted.json["id"]?.stringValue)
        try await waitUntilFile(started)

        // The same config on another port: same journal, work root and buffer store.
        let config = try String(contentsOfFile: broker.root + "/shunter.yaml", encoding: .utf8)
            .replacingOccurrences(of: "listen: 127.0.0.1:\(broker.port)", with: "listen: 127.0.0.1:0")
        try config.write(toFile: broker.root + "/second.yaml", atomically: true, encoding: .utf8)
        let second = try await Self.runExpectingExit(
            ["serve", "--config", broker.root + "/second.yaml"], in: broker.root)
        #expect(second.status == 5, "\(second.output)")
        #expect(second.output.contains("pid \(firstPID)"), "the message names the holder: \(second.output)")
        #expect(second.output.contains("journal"), "\(second.output)")
        #expect(second.output.contains(ProcessInfo.processInfo.hostName), "\(second.output)")

        _ = FileManager.default.createFile(atPath: release, contents: nil)
        let reply = try await broker.get("/jobs/\(id)/wait?timeout=60")
        #expect(
            try reply.json["state"]?.stringValue == "succeeded", "the first broker's job was left alone: \(reply.text)")
    }

    @Test("after kill -9 the lock is taken over by the next broker, whose pid the lock file then names")
    func staleLockIsTakenOver() async throws {
        let broker = try BrokerProcess()
        try await broker.start()
        let firstPID = try #require(broker.pid)
        let journal = broker.root + "/var/journal.sqlite"
        #expect(BrokerLock.holder(guarding: journal)?.pid == firstPID)
        broker.killHard()
        #expect(BrokerLock.holder(guarding: journal) == nil, "the kernel released the dead broker's lock")

        try await broker.start()
        defer { broker.stop() }
        let secondPID = try #require(broker.pid)
        #expect(BrokerLock.holder(guarding: journal)?.pid == secondPID)
        #expect(BrokerLock.holder(guarding: broker.root + "/var/work")?.pid == secondPID)
        #expect(BrokerLock.holder(guarding: broker.root + "/var/buffers")?.pid == secondPID)
    }

    /// Runs `shunter ARGS`, which should exit by itself; one still running after a minute (a
    /// second broker that was let in) is killed and the test fails instead of hanging.
    static func runExpectingExit(_ arguments: [String], in directory: String) async throws -> (
        status: Int32, output: String
    ) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try BrokerProcess.executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let log = directory + "/second.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let deadline = ContinuousClock.now + .seconds(60)
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                process.terminate()
                process.waitUntilExit()
                throw TestFailure(
                    "shunter \(arguments.joined(separator: " ")) was still running after a minute: "
                        + ((try? String(contentsOfFile: log, encoding: .utf8)) ?? ""))
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        try handle.close()
        return (process.terminationStatus, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
    }
}
