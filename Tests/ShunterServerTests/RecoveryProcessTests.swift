import Foundation
import ShunterCore
import ShunterTestSupport
import Testing

@Suite("recovery after kill -9, with real brokers and jobs", .serialized)
struct RecoveryProcessTests {
    @Test("a job in flight at six kills of its broker in a row fails at the next start instead of running again")
    func poisonJobIsFailed() async throws {
        let broker = try BrokerProcess()
        try await broker.start()
        let started = broker.root + "/started"
        let runs = broker.root + "/runs"
        let request = try await broker.bashRequest("echo run >> \(runs); touch \(started); sleep 300")
        let id = try #require(try await broker.post("/jobs", body: request).json["id"]?.stringValue)
        // The first run and five recoveries (Broker.recoveryLimit), each ended by a kill -9
        // while the job runs.
        for _ in 0..<6 {
            try await waitUntilFile(started)
            try FileManager.default.removeItem(atPath: started)
            broker.killHard()
            try await broker.start()
        }
        defer { broker.stop() }
        let reply = try await broker.get("/jobs/\(id)/wait?timeout=60")
        #expect(try reply.json["state"]?.stringValue == "failed", "\(reply.text)")
        #expect(try reply.json["error"]?.stringValue?.contains("6 times in a row") == true, "\(reply.text)")
        let count = try String(contentsOfFile: runs, encoding: .utf8).split(separator: "\n").count
        #expect(count == 6, "it ran at the first start and at five recoveries, not at the seventh start")
        #expect(try await broker.get("/healthcheck").text == "OK")
    }

    @Test("jobs that finish while their broker is down after kill -9 are collected on restart, never run twice")
    func jobsFinishedWhileDownAreCollected() async throws {
        let broker = try BrokerProcess(maxJobs: 6)
        try await broker.start()
        let gate = broker.root + "/gate"
        let effects = broker.root + "/effects"
        var jobs: [(id: String, n: Int)] = []
        for n in 0..<5 {
            let request = try await broker.bashRequest(
                "touch \(broker.root)/started-$n; while [ ! -e \(gate) ]; do sleep 0.05; done; "
                    + "echo $n >> \(effects); if [ $n = 4 ]; then exit 3; fi; echo $(( n * n )) > RESULT",
                inputs: ["n": (.int, .int(Int64(n)))])
            let reply = try await broker.post("/jobs", body: request)
            jobs.append((try #require(try reply.json["id"]?.stringValue), n))
        }
        for n in 0..<5 { try await waitUntilFile(broker.root + "/started-\(n)") }
        broker.killHard()
        // The orphaned jobs run to their end while no broker is there.
        _ = FileManager.default.createFile(atPath: gate, contents: nil)
        let deadline = ContinuousClock.now + .seconds(30)
        while ((try? String(contentsOfFile: effects, encoding: .utf8)) ?? "").split(separator: "\n").count < 5 {
            guard ContinuousClock.now < deadline else { throw TestFailure("the orphaned jobs did not finish") }
            try await Task.sleep(for: .milliseconds(20))
        }

        try await broker.start()
        defer { broker.stop() }
        for job in jobs {
            let reply = try await broker.get("/jobs/\(job.id)/wait?timeout=60")
            let record = try reply.json
            if job.n == 4 {
                #expect(record["state"]?.stringValue == "failed", "\(reply.text)")
                #expect(record["error"]?.stringValue?.contains("Return code 3") == true, "\(reply.text)")
            } else {
                #expect(record["state"]?.stringValue == "succeeded", "\(reply.text)")
                let result = try #require(record["result"]?.stringValue)
                #expect(try await broker.get("/" + result).text == "\(job.n * job.n)\n")
            }
        }
        let lines = try String(contentsOfFile: effects, encoding: .utf8).split(separator: "\n").sorted()
        #expect(lines == ["0", "1", "2", "3", "4"], "each job's side effect happened exactly once")
    }
}
