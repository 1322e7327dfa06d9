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
        let second = try BrokerProcess.runCLI(["serve", "--config", broker.root + "/second.yaml"], in: broker.root)
        #expect(second.status == 5, "\(second.output)")
        #expect(second.output.contains("pid \(firstPID)"), "the message names the holder: \(second.output)")
        #expect(second.output.contains("journal"), "\(second.output)")
        #expect(second.output.contains(ProcessInfo.processInfo.hostName), "\(second.output)")

        _ = FileManager.default.createFile(atPath: release, contents: nil)
        let reply = try await broker.get("/jobs/\(id)/wait?timeout=60")
        #expect(try reply.json["state"]?.stringValue == "succeeded", "the first broker's job was left alone: \(reply.text)")
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
}
