import Foundation
import NIOHTTP1
import ShunterCore
import ShunterTestSupport
import Testing

@testable import ShunterBackends

/// The real `shunter serve` on the real cluster: kill -9 at random moments of a burst, and
/// throughput against a plain sbatch loop. Serialized: both load the one-node cluster.
extension SlurmClusterTests {
    @Suite(.serialized) struct SlurmBrokerTests {
        static func environmentCount(_ name: String, default value: Int) -> Int {
            ProcessInfo.processInfo.environment[name].flatMap(Int.init) ?? value
        }

        /// Issue 5 asks for 200 jobs; 60 keeps this test near 30 s on the CI machine and still
        /// puts every kill among submissions, running jobs and collections.
        /// `SHUNTER_SLURM_CRASH_JOBS=200` runs the full size.
        @Test func killingTheBrokerAtRandomNeverLosesNorDuplicatesAJob() async throws {
            try await SlurmCluster.require()
            let count = Self.environmentCount("SHUNTER_SLURM_CRASH_JOBS", default: 60)
            let broker = try SlurmBrokerProcess(
                slurmYAML: "{poll_interval: 250ms, max_poll_interval: 2s, command_timeout: 5s, marker_wait: 5s}")
            try await broker.start()
            let nonce = UUID().uuidString.prefix(8).lowercased()
            var bodies: [[UInt8]] = []
            var expected: [String] = []
            for index in 0..<count {
                let output = "\(nonce)-\(index)"
                bodies.append(try await broker.bashJob("sleep \(Double(index % 6) * 0.4); echo \(output) > RESULT"))
                expected.append(HashAlgorithm.sha256.checksum(of: Array((output + "\n").utf8)).hex)
            }

            // Submit while killing: each kill lands at a random moment of submission, sbatch,
            // running or collecting. A submission whose answer was lost is sent again, as a
            // client would (the broker joins it to the job it already has).
            let acknowledged = Acknowledgements()
            var generator = SystemRandomNumberGenerator()
            let kills = 4
            for round in 0...kills {
                if round > 0 { try await broker.start() }
                let submitter = Task {
                    for index in 0..<count where await !acknowledged.has(index) {
                        guard
                            let reply = try? await broker.send(
                                .POST, "/jobs", body: bodies[index], timeout: .seconds(10)),
                            (200..<300).contains(reply.status), let tf = try? reply.json["transformation"]?.stringValue
                        else { return }
                        await acknowledged.add(index, tf: tf)
                    }
                }
                if round == kills { break }
                try await Task.sleep(for: .milliseconds(Int.random(in: 100...2500, using: &generator)))
                broker.killHard()
                submitter.cancel()
                _ = await submitter.value
            }
            let deadline = ContinuousClock.now + .seconds(120)
            while await acknowledged.count < count, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(await acknowledged.count == count, "not every submission was accepted:\n\(broker.log.suffix(3000))")

            // Every transformation: one job in the journal, ended once, with the right result.
            var names: [String] = []
            for index in 0..<count {
                guard let tf = await acknowledged.tf(index) else { continue }
                var records = try await broker.records(tf: tf)
                if let id = records.first?["id"]?.stringValue, records.count == 1,
                    records[0]["state"]?.stringValue != "succeeded"
                {
                    _ = try await broker.send(.GET, "/jobs/\(id)/wait?timeout=90", timeout: .seconds(100))
                    records = try await broker.records(tf: tf)
                }
                #expect(records.count == 1, "transformation \(index) has \(records.count) jobs")
                guard let record = records.first else { continue }
                #expect(record["state"]?.stringValue == "succeeded", "job \(index): \(record)")
                #expect(record["result"]?.stringValue == expected[index], "job \(index): \(record)")
                if let id = record["id"]?.stringValue { names.append("shunter-\(tf.prefix(12))-\(id)") }
            }

            // Slurm's side: one submission per job name, in the queue (MinJobAge keeps ended jobs
            // listed) and in the job-completion log.
            let slurmJobs = try await SlurmCluster.jobs()
            let jobcomp = (try? String(contentsOfFile: "/var/log/slurm/jobcomp.log", encoding: .utf8)) ?? ""
            for name in names {
                let submitted = slurmJobs.filter { $0.name == name }
                #expect(
                    submitted.count == 1, "\(name) was submitted \(submitted.count) times: \(submitted.map(\.jobID))")
                #expect(submitted.first?.state == "COMPLETED", "\(name): \(submitted)")
                let completions = jobcomp.split(separator: "\n").filter { $0.contains(" Name=\(name) ") }.count
                #expect(completions == 1, "\(name) appears \(completions) times in jobcomp.log")
            }
            let stray = slurmJobs.filter {
                $0.name.hasPrefix("shunter-") && !$0.isTerminal && $0.workDirectory.hasPrefix(broker.root)
            }
            #expect(stray.isEmpty, "Slurm jobs left running: \(stray)")
            let reattached = broker.log.components(separatedBy: "re-attaching").count - 1
            print(
                "crash test: \(count) jobs, \(kills) kills, \(reattached) re-attachments logged, \(names.count) Slurm jobs"
            )
        }

        /// Issue 5 item 6: jobs/s through Shunter against a plain sbatch loop, in the same run.
        /// Reported, not asserted (only that every job succeeds). `SHUNTER_SLURM_BURST=500` for the
        /// issue's size; 150 keeps the test target under two minutes.
        @Test func burstThroughputAgainstAPlainSbatchLoop() async throws {
            try await SlurmCluster.require()
            let count = Self.environmentCount("SHUNTER_SLURM_BURST", default: 150)
            let broker = try SlurmBrokerProcess(slurmYAML: "{poll_interval: 1s}")
            try await broker.start()
            let nonce = UUID().uuidString.prefix(8).lowercased()
            var bodies: [[UInt8]] = []
            for index in 0..<count { bodies.append(try await broker.bashJob("echo \(nonce)-\(index) > RESULT")) }

            let shunterStart = ContinuousClock.now
            let ids = try await withThrowingTaskGroup(of: String.self) { group in
                for body in bodies {
                    group.addTask {
                        let reply = try await broker.send(.POST, "/jobs", body: body)
                        guard reply.status == 202, let id = try reply.json["id"]?.stringValue else {
                            throw ClusterError("POST /jobs: \(reply.status) \(reply.text)")
                        }
                        return id
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            var failures = 0
            for id in ids {
                let reply = try await broker.send(.GET, "/jobs/\(id)/wait?timeout=300", timeout: .seconds(310))
                if try reply.json["state"]?.stringValue != "succeeded" { failures += 1 }
            }
            let shunterTime = ContinuousClock.now - shunterStart
            #expect(failures == 0, "\(failures) of \(count) jobs did not succeed:\n\(broker.log.suffix(2000))")

            // The same number of jobs straight from a loop of sbatch calls, waited for with squeue.
            try await withTestRoot { root in
                let script = root + "/job.sh"
                try "#!/bin/bash\necho 1 > \(root)/out.$SLURM_JOB_ID\n".write(
                    toFile: script, atomically: true, encoding: .utf8)
                let name = "plain-\(nonce)"
                let plainStart = ContinuousClock.now
                for _ in 0..<count {
                    try await SlurmCluster.command(
                        "sbatch", ["--parsable", "--job-name=\(name)", "--output=/dev/null", script])
                }
                try await SlurmCluster.waitUntilIdle(namePrefix: name, timeout: .seconds(300))
                let plainTime = ContinuousClock.now - plainStart
                let outputs = try FileManager.default.contentsOfDirectory(atPath: root).filter { $0.hasPrefix("out.") }
                    .count
                #expect(outputs == count)
                func rate(_ time: Duration) -> String {
                    String(
                        format: "%.1f",
                        Double(count) / (Double(time.components.seconds) + Double(time.components.attoseconds) / 1e18))
                }
                print(
                    "throughput: \(count) jobs through Shunter in \(shunterTime) (\(rate(shunterTime)) jobs/s); plain sbatch loop + squeue wait in \(plainTime) (\(rate(plainTime)) jobs/s)"
                )
            }
        }
    }
}

actor Acknowledgements {
    private var tfs: [Int: String] = [:]
    func add(_ index: Int, tf: String) { tfs[index] = tf }
    func has(_ index: Int) -> Bool { tfs[index] != nil }
    func tf(_ index: Int) -> String? { tfs[index] }
    var count: Int { tfs.count }
}
