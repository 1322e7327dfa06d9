import Foundation
import ShunterCore
import ShunterHandlers
import Testing

@testable import ShunterBackends

/// What Shunter reads from Slurm's tools and from `__meta__`, and the batch script it writes.
/// The squeue/sacct lines are real output of Slurm 22.05 on the test cluster.
@Suite struct SlurmParsingTests {
    @Test func squeueLines() throws {
        let failed = try #require(
            SlurmJobStatus(squeueLine: "12|FAILED|768|NonZeroExitCode|shunter-ab12cd34ef56-7|/w/ab12cd34ef56-7/work|"))
        #expect(failed.jobID == "12" && failed.state == "FAILED" && failed.exitCode == 3 && failed.signal == nil)
        #expect(failed.name == "shunter-ab12cd34ef56-7" && failed.workDirectory == "/w/ab12cd34ef56-7/work")
        let killed = try #require(SlurmJobStatus(squeueLine: "13|CANCELLED|9|None|x|/tmp|"))
        #expect(killed.signal == 9 && killed.isTerminal)
        let pending = try #require(SlurmJobStatus(squeueLine: "14|PENDING|0|Resources|x|/tmp|"))
        #expect(!pending.isTerminal && !pending.hasStarted)
        #expect(SlurmJobStatus(squeueLine: "garbage") == nil)
    }

    @Test func sacctLines() throws {
        let cancelled = try #require(SlurmJobStatus(sacctLine: "15|CANCELLED by 0|0:15|shunter-a-1|/tmp/a-1/work"))
        #expect(cancelled.state == "CANCELLED" && cancelled.signal == 15 && cancelled.exitCode == 0)
        let oom = try #require(SlurmJobStatus(sacctLine: "16|OUT_OF_MEMORY|0:125|n|/w"))
        #expect(oom.state == "OUT_OF_MEMORY")
    }

    /// Every terminal state gives an outcome the plugin reads, or words that say what happened.
    @Test func terminalStatesMapToClearOutcomes() {
        func end(_ state: String, exit: Int32? = 0, signal: Int32? = nil, reason: String = "") -> SlurmJobEnd {
            SlurmJobEnd.of(
                SlurmJobStatus(jobID: "9", state: state, exitCode: exit, signal: signal, reason: reason),
                limit: .seconds(60), memory: 100 << 20)
        }
        #expect(end("COMPLETED") == .outcome(.exited(0)))
        #expect(end("FAILED", exit: 3) == .outcome(.exited(3)))
        #expect(end("FAILED", exit: 0, signal: 9) == .outcome(.signaled(9)))
        #expect(end("TIMEOUT") == .outcome(.timedOut(.seconds(60))))
        #expect(end("CANCELLED") == .cancelled)
        let words: [String: String] = [
            "OUT_OF_MEMORY": "more memory than it asked for (OUT_OF_MEMORY): it asked for 100M",
            "NODE_FAIL": "node running it failed",
            "PREEMPTED": "preempted",
            "BOOT_FAIL": "failed to boot",
            "DEADLINE": "deadline",
        ]
        for (state, phrase) in words {
            guard case .failure(let message) = end(state) else {
                Issue.record("\(state) should be a failure with words")
                continue
            }
            #expect(message.contains(phrase) && message.contains("Slurm job 9"), "\(state): \(message)")
        }
        guard case .failure(let launch) = end("FAILED", exit: 0, reason: "BadConstraints") else {
            Issue.record("FAILED without exit code must explain")
            return
        }
        #expect(launch.contains("before the command ran (BadConstraints)"))
    }

    @Test func resourcesFromMeta() throws {
        let meta: [String: JSONValue] = [
            "ncores": .int(4), "memory": .string("2G"), "walltime": .string("01:30:00"), "gpus": .int(1),
            "partition": .string("gpu"), "account": .string("lab"), "qos": .string("high"),
            "sbatch": .array([.string("--constraint=avx2")]), "transformer_path": .array([]),
        ]
        let defaults = ResourceRequest(
            cores: 1, memoryBytes: 1 << 30, partition: "short", extraDirectives: ["--nice=10"])
        let request = try ResourceRequest(meta: meta, defaults: defaults)
        #expect(
            request.cores == 4 && request.memoryBytes == 2 << 30 && request.walltime == .seconds(5400)
                && request.gpus == 1)
        #expect(request.partition == "gpu" && request.account == "lab" && request.qos == "high")
        #expect(request.extraDirectives == ["--nice=10", "--constraint=avx2"])

        #expect(
            try ResourceRequest(meta: ["memory": .int(500)], defaults: .init()).memoryBytes == 500 << 20,
            "a number is MiB")
        #expect(
            try ResourceRequest(meta: ["walltime": .int(90)], defaults: .init()).walltime == .seconds(90),
            "a number is seconds")
        #expect(
            try ResourceRequest(meta: ["walltime": .string("2-00:00:00")], defaults: .init()).walltime
                == .seconds(172_800))
        #expect(try ResourceRequest(meta: ["walltime": .string("1h30m")], defaults: .init()).walltime == .seconds(5400))
        #expect(
            try ResourceRequest(meta: ["ncores": .int(-1)], defaults: ResourceRequest(cores: 2)).cores == 2,
            "-1 keeps the default")
        #expect(try ResourceRequest(meta: [:], defaults: defaults) == defaults)

        let bad = #expect(throws: ResourceRequestError.self) {
            try ResourceRequest(meta: ["memory": .string("lots")], defaults: .init())
        }
        #expect(
            bad?.description
                == "__meta__ 'memory': expected a size such as 4G or 500M (a plain number is MiB), got \"lots\"")
        #expect(throws: ResourceRequestError.self) {
            try ResourceRequest(meta: ["sbatch": .string("rm -rf /")], defaults: .init())
        }
        #expect(throws: ResourceRequestError.self) { try ResourceRequest(meta: ["ncores": .int(0)], defaults: .init()) }
    }

    @Test func metaOverHandlerDefaults() {
        let job = ResourceRequest(cores: 8, extraDirectives: ["--constraint=b"])
        let merged = job.filling(
            from: ResourceRequest(cores: 1, memoryBytes: 1 << 30, partition: "p", extraDirectives: ["--constraint=a"]))
        #expect(
            merged
                == ResourceRequest(
                    cores: 8, memoryBytes: 1 << 30, partition: "p",
                    extraDirectives: ["--constraint=a", "--constraint=b"]))
    }

    @Test func batchScriptDirectivesAndQuoting() throws {
        let execution = Execution(
            jobID: "7", handler: "h", workDirectory: "/shared/ab-7/work", command: ["/bin/bash", "-c", "echo 'hi'"],
            environment: ["PATH": "/usr/bin", "X": "it's"], timeout: .seconds(90),
            resources: ResourceRequest(
                cores: 2, memoryBytes: 1536 << 20, gpus: 1, partition: "p", account: "a", qos: "q",
                extraDirectives: ["--constraint=avx2"]),
            stdoutPath: "/shared/ab-7/stdout", stderrPath: "/shared/ab-7/stderr")
        let files = SlurmJobFiles(execution: execution)
        #expect(files.jobName == "shunter-ab-7" && files.scriptPath == "/shared/ab-7/slurm-job.sh")
        let script = try SlurmBatchScript.text(
            for: execution, files: files, timeLimit: SlurmBackend.timeLimit(of: execution))
        for line in [
            "#SBATCH --job-name=shunter-ab-7", "#SBATCH --output=/shared/ab-7/slurm-job.out",
            "#SBATCH --chdir=/shared/ab-7/work",
            "#SBATCH --export=ALL", "#SBATCH --cpus-per-task=2", "#SBATCH --mem=1536M", "#SBATCH --time=0-00:02:00",
            "#SBATCH --gpus=1", "#SBATCH --partition=p", "#SBATCH --account=a", "#SBATCH --qos=q",
            "#SBATCH --constraint=avx2",
            "'X=it'\"'\"'s'", "'echo '\"'\"'hi'\"'\"''",
        ] {
            #expect(script.contains(line), "missing \(line) in:\n\(script)")
        }
        var spaced = execution
        spaced.workDirectory = "/my dir/ab-7/work"
        #expect(throws: SlurmBatchScript.Unusable.self) {
            try SlurmBatchScript.text(for: spaced, files: SlurmJobFiles(execution: spaced), timeLimit: nil)
        }
        #expect(SlurmBatchScript.slurmTime(.seconds(1)) == "0-00:01:00")
        #expect(SlurmBatchScript.slurmTime(.seconds(86_400 + 3601)) == "1-01:01:00")
    }

    @Test func handlerSection() throws {
        let at = SourceLocation(file: "h.yaml", line: 1, column: 1)
        let section = ConfigValue.map(
            [
                (key: "partition", value: .string("short", at)), (key: "memory", value: .string("2G", at)),
                (key: "poll_interval", value: .string("10s", at)), (key: "accounting", value: .bool(true, at)),
                (key: "sbatch", value: .list([.string("--nice=5", at)], at)),
            ], at)
        let options = try SlurmOptions(
            handler: HandlerConfig(name: "s", plugin: "bash", backend: "slurm", options: ["slurm": section]))
        #expect(options.defaults.partition == "short" && options.defaults.memoryBytes == 2 << 30)
        #expect(
            options.pollInterval == .seconds(10) && options.maxPollInterval == .seconds(60)
                && options.accounting == true)
        #expect(options.defaults.extraDirectives == ["--nice=5"])
        let bad = ConfigValue.map([(key: "poll_interval", value: .string("0s", at))], at)
        #expect(throws: ConfigError.self) {
            try SlurmOptions(
                handler: HandlerConfig(name: "s", plugin: "bash", backend: "slurm", options: ["slurm": bad]))
        }
    }

    @Test func sbatchGetsNoneOfTheBrokersSettings() {
        let broker = [
            "PATH": "/usr/bin", "SLURM_CONF": "/etc/slurm/slurm.conf", "AWS_SECRET_ACCESS_KEY": "x",
            "SBATCH_PARTITION": "p", "HOME": "/root",
        ]
        #expect(
            SlurmCommandRunner.submissionEnvironment(from: broker) == [
                "PATH": "/usr/bin", "SLURM_CONF": "/etc/slurm/slurm.conf", "HOME": "/root",
            ])
    }

    @Test func transientSbatchFailures() {
        func result(_ stderr: String, status: Int32? = 1) -> SlurmCommandRunner.Result {
            SlurmCommandRunner.Result(command: "sbatch", status: status, stdout: "", stderr: stderr)
        }
        #expect(
            SlurmBackend.isTransient(
                result(
                    "sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)"))
        )
        #expect(SlurmBackend.isTransient(result("Socket timed out on send/recv operation")))
        #expect(SlurmBackend.isTransient(result("", status: nil)))
        #expect(
            !SlurmBackend.isTransient(
                result("sbatch: error: Batch job submission failed: Invalid partition name specified")))
    }
}
