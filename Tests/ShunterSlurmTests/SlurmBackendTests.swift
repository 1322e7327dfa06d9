import Foundation
import Testing

@testable import ShunterBackends

/// `SlurmBackend` against the real one-node cluster: submission, tracking, exit codes,
/// refusals, time limits, cancels, re-attaching.
extension SlurmClusterTests {
    @Suite(.serialized) struct SlurmBackendTests {
        @Test func runsACommandWithExactlyItsEnvironmentAndReportsTheJobID() async throws {
            try await SlurmCluster.require()
            try await withTestRoot { root in
                let job = try SlurmTestJob(root: root)
                let backend = SlurmBackend(options: SlurmCluster.fastOptions())
                let started = StartedIDs()
                let outcome = try await backend.run(
                    job.execution(
                        "echo out; echo err >&2; env | sort > ENV; echo 42 > RESULT",
                        environment: ["PATH": "/usr/bin:/bin", "PIN": "a b'c"]),
                    events: started.events)
                #expect(outcome.termination == .exited(0))
                let ids = await started.ids
                #expect(ids.count == 1 && outcome.externalID == ids.first)
                #expect(job.read("work/RESULT") == "42\n")
                #expect(job.read("stdout") == "out\n")
                #expect(job.read("stderr") == "err\n")
                // Nothing of the broker's or Slurm's environment: only what the execution lists (and
                // what bash itself sets).
                let names = Set(
                    (job.read("work/ENV") ?? "").split(separator: "\n").map { String($0.prefix { $0 != "=" }) })
                #expect(
                    names.isSubset(of: ["PATH", "PIN", "PWD", "SHLVL", "_"]), "unexpected variables: \(names.sorted())")
                #expect(job.read("work/ENV")?.contains("PIN=a b'c") == true)
                #expect(job.read("slurm-job.sh")?.contains("#SBATCH --job-name=shunter-\(job.name)") == true)
                #expect(job.read("slurm-exit") == "0\n")
                let status = try await SlurmCluster.job(ids[0])
                #expect(status?.name == "shunter-\(job.name)")
            }
        }

        @Test func aFailingCommandGivesItsExitCode() async throws {
            try await SlurmCluster.require()
            try await withTestRoot { root in
                let job = try SlurmTestJob(root: root)
                let outcome = try await SlurmBackend(options: SlurmCluster.fastOptions()).run(
                    job.execution("echo no >&2; exit 3"), events: ExecutionEvents())
                #expect(outcome.termination == .exited(3))
                #expect(job.read("stderr") == "no\n")
            }
        }

        @Test func sbatchRefusalQuotesSlurm() async throws {
            try await SlurmCluster.require()
            try await withTestRoot { root in
                let job = try SlurmTestJob(root: root)
                let backend = SlurmBackend(options: SlurmCluster.fastOptions())
                let error = await #expect(throws: SlurmJobError.self) {
                    try await backend.run(
                        job.execution("true", resources: ResourceRequest(partition: "no-such-partition")),
                        events: ExecutionEvents())
                }
                #expect(error?.description.contains("sbatch refused the job") == true)
                #expect(
                    error?.description.lowercased().contains("invalid partition") == true, "\(error?.description ?? "")"
                )
            }
        }

        @Test func theTimeLimitStopsTheJobInSlurm() async throws {
            try await SlurmCluster.require()
            try await withTestRoot { root in
                let job = try SlurmTestJob(root: root)
                let started = StartedIDs()
                let outcome = try await SlurmBackend(options: SlurmCluster.fastOptions(), killGrace: .seconds(1))
                    .run(job.execution("sleep 120", timeout: .seconds(2)), events: started.events)
                #expect(outcome.termination == .timedOut(.seconds(2)))
                #expect(job.read("slurm-job.sh")?.contains("#SBATCH --time=0-00:01:00") == true)
                let status = try await SlurmCluster.job(await started.ids[0])
                #expect(status?.state == "CANCELLED", "Slurm should have been told: \(String(describing: status))")
            }
        }

        @Test func cancellingTheCallerCancelsTheSlurmJob() async throws {
            try await SlurmCluster.require()
            try await withTestRoot { root in
                let job = try SlurmTestJob(root: root)
                let started = StartedIDs()
                let backend = SlurmBackend(options: SlurmCluster.fastOptions(), killGrace: .seconds(1))
                let task = Task { try await backend.run(job.execution("sleep 120"), events: started.events) }
                while await started.ids.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
                task.cancel()
                await #expect(throws: CancellationError.self) { try await task.value }
                let status = try await SlurmCluster.job(await started.ids[0])
                #expect(status?.state == "CANCELLED")
            }
        }

        @Test func aBrokerShuttingDownLeavesTheJobRunningAndResumeFollowsIt() async throws {
            try await SlurmCluster.require()
            try await withTestRoot { root in
                let job = try SlurmTestJob(root: root)
                let started = StartedIDs()
                let backend = SlurmBackend(options: SlurmCluster.fastOptions())
                let stopping = ExecutionEvents(started: { await started.add($0) }, brokerIsStopping: { true })
                let execution = job.execution("sleep 2; echo done > RESULT")
                let task = Task { try await backend.run(execution, events: stopping) }
                while await started.ids.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
                task.cancel()
                await #expect(throws: CancellationError.self) { try await task.value }
                let id = await started.ids[0]
                #expect(try await SlurmCluster.job(id)?.isTerminal == false, "the job must go on running")
                // A new backend (a restarted broker) follows the same Slurm job.
                let outcome = try await SlurmBackend(options: SlurmCluster.fastOptions()).resume(
                    execution, externalID: id, events: ExecutionEvents())
                #expect(outcome.termination == .exited(0) && outcome.externalID == id)
                #expect(job.read("work/RESULT") == "done\n")
            }
        }

        @Test func resumeWithoutAnIDFindsTheJobByNameInsteadOfSubmittingAgain() async throws {
            try await SlurmCluster.require()
            try await withTestRoot { root in
                let job = try SlurmTestJob(root: root)
                let execution = job.execution("sleep 1; echo once >> RESULT")
                // Submitted, but the broker died before journaling the id.
                let files = SlurmJobFiles(execution: execution)
                try SlurmBatchScript.text(for: execution, files: files, timeLimit: nil).write(
                    toFile: files.scriptPath, atomically: true, encoding: .utf8)
                let submitted = try await SlurmCluster.command("sbatch", ["--parsable", files.scriptPath])
                    .trimmingCharacters(in: .whitespacesAndNewlines)
                let started = StartedIDs()
                let outcome = try await SlurmBackend(options: SlurmCluster.fastOptions()).resume(
                    execution, externalID: "", events: started.events)
                #expect(outcome.termination == .exited(0))
                #expect(await started.ids == [submitted], "the id found by name is journaled")
                #expect(job.read("work/RESULT") == "once\n")
                #expect(try await SlurmCluster.jobs().filter { $0.name == files.jobName }.count == 1)
            }
        }

        @Test func resumeWithoutAnIDSubmitsWhenSlurmHasNoSuchJob() async throws {
            try await SlurmCluster.require()
            try await withTestRoot { root in
                let job = try SlurmTestJob(root: root)
                let started = StartedIDs()
                let outcome = try await SlurmBackend(options: SlurmCluster.fastOptions())
                    .resume(job.execution("echo 1 > RESULT"), externalID: "", events: started.events)
                #expect(outcome.termination == .exited(0))
                #expect(await started.ids.count == 1)
            }
        }

        @Test func aJobCancelledOutsideShunterSaysSo() async throws {
            try await SlurmCluster.require()
            try await withTestRoot { root in
                let job = try SlurmTestJob(root: root)
                let started = StartedIDs()
                let backend = SlurmBackend(options: SlurmCluster.fastOptions())
                let task = Task { try await backend.run(job.execution("sleep 120"), events: started.events) }
                while await started.ids.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
                try await SlurmCluster.command("scancel", [await started.ids[0]])
                let error = await #expect(throws: SlurmJobError.self) { try await task.value }
                #expect(error?.description.contains("was cancelled outside Shunter") == true)
            }
        }

        /// A job Slurm no longer lists (older than MinJobAge, or after a long broker outage)
        /// ends as its exit marker says (after sacct, with accounting), else as lost, in words.
        @Test func forgottenJobsResolveFromTheirExitMarkerOrAreLost() async throws {
            try await SlurmCluster.require()
            try await withTestRoot { root in
                let poller = SlurmBackend(options: SlurmCluster.fastOptions()).poller
                let unknownIDs = [
                    "\(Int.random(in: 900_000_000...999_999_999))", "\(Int.random(in: 900_000_000...999_999_999))",
                ]
                try "7\n".write(toFile: root + "/slurm-exit", atomically: true, encoding: .utf8)
                let marked = try await poller.wait(for: unknownIDs[0], markerPath: root + "/slurm-exit") { _ in false }
                #expect(marked.state == "FAILED" && marked.exitCode == 7)
                let lost = try await poller.wait(for: unknownIDs[1], markerPath: root + "/no-marker") { _ in false }
                #expect(lost.state == "LOST")
                guard case .failure(let message) = SlurmJobEnd.of(lost, limit: nil, memory: nil) else {
                    Issue.record("a lost job must fail with words")
                    return
                }
                #expect(
                    message.contains("Slurm job \(unknownIDs[1]) ended in state LOST (unknown to squeue"), "\(message)")
            }
        }

        /// The controller is asked once per interval for all jobs, never once per job.
        @Test func oneSqueuePerIntervalForManyJobs() async throws {
            try await SlurmCluster.require()
            try await withTestRoot { root in
                let backend = SlurmBackend(options: SlurmCluster.fastOptions { $0.pollInterval = .milliseconds(500) })
                let jobs = try (0..<24).map { _ in try SlurmTestJob(root: root) }
                let clock = ContinuousClock.now
                try await withThrowingTaskGroup(of: ExecutionOutcome.self) { group in
                    for job in jobs {
                        group.addTask {
                            try await backend.run(job.execution("sleep 1; echo 1 > RESULT"), events: ExecutionEvents())
                        }
                    }
                    for try await outcome in group { #expect(outcome.termination == .exited(0)) }
                }
                let elapsed = ContinuousClock.now - clock
                let calls = await backend.poller.callCounts()
                let intervals = Int((elapsed / .milliseconds(500)).rounded(.up))
                print("24 jobs in \(elapsed): \(calls.squeue) squeue calls, \(calls.sacct) sacct calls")
                #expect(calls.squeue <= intervals + 1, "\(calls.squeue) squeue calls in \(intervals) intervals")
            }
        }
    }
}
