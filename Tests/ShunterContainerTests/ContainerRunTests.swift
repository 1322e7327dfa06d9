import Foundation
import ShunterBackends
import ShunterCore
import ShunterHandlers
import ShunterPlugins
import ShunterStore
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Runs against the real engines: cancel and timeout stop what the job started, limits and
/// isolation reach the container, images are provisioned once, many jobs run at once.
@Suite("Container runs on real Docker and Apptainer", .serialized)
struct ContainerRunTests {
    enum Engine: String, CaseIterable, Sendable {
        case docker, apptainer

        func handler(extra: String = "") throws -> HandlerConfig {
            switch self {
            case .docker: try ContainerJobs.dockerHandler(extra: extra)
            case .apptainer: try ContainerJobs.apptainerHandler(extra: extra)
            }
        }

        func require() async throws {
            switch self {
            case .docker: try await ContainerFixtures.requireDocker()
            case .apptainer: try await ContainerFixtures.requireApptainer()
            }
        }

        /// Docker containers of a job still present (running or not); always empty for apptainer.
        func leftovers(jobID: String) async throws -> String {
            guard self == .docker else { return "" }
            return try await ContainerFixtures.tool(
                "docker", ["ps", "--all", "--quiet", "--filter", "label=org.shunter.job=\(jobID)"]
            )
            .output.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// Waits (bounded) until the job has written `file` into its work directory.
    static func waitFor(_ path: String, seconds: Double = 20) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while !FileManager.default.fileExists(atPath: path) {
            guard ContinuousClock.now < deadline else { throw MissingComponent("the job never wrote \(path)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    @Test("cancel during a run stops the container and every process of the job", arguments: Engine.allCases)
    func cancelDuringRun(_ engine: Engine) async throws {
        try await engine.require()
        let jobs = try ContainerJobs()
        defer { jobs.cleanUp() }
        let marker = engine == .docker ? "987" : "977"
        let job = try await jobs.job(
            code: "sleep \(marker) & sleep \(marker)1 & touch started; sleep \(marker)2; echo never > RESULT",
            image: ContainerFixtures.dockerImage, handler: try engine.handler())
        let plugin = try ContainerJobs.plugin(job.handler)
        let backend = try ContainerJobs.backend(job.handler)
        let prepared = try await plugin.prepare(job)
        defer { try? WorkDirectory(path: prepared.workDirectory).remove() }
        let running = Task { try await backend.run(prepared.execution, events: ExecutionEvents()) }
        try await Self.waitFor(prepared.execution.workDirectory + "/started")
        #expect(
            !ContainerFixtures.processes(containing: "sleep \(marker)").isEmpty,
            "the job's processes are visible while it runs")

        // The job's own processes sleep for hours: that `run` returns at all says the cancel
        // stopped them; the checks below say nothing of them is left.
        running.cancel()
        await #expect(throws: CancellationError.self) { _ = try await running.value }
        #expect(ContainerFixtures.processes(containing: "sleep \(marker)") == [], "no process of the job survives")
        #expect(try await engine.leftovers(jobID: job.jobID) == "", "the container is removed")
        #expect(!FileManager.default.fileExists(atPath: prepared.execution.workDirectory + "/RESULT"))
    }

    @Test("a timeout kills the job and fails it with the timeout text", arguments: Engine.allCases)
    func timeout(_ engine: Engine) async throws {
        try await engine.require()
        let jobs = try ContainerJobs()
        defer { jobs.cleanUp() }
        let marker = engine == .docker ? "967" : "957"
        let job = try await jobs.job(
            code: "sleep \(marker) & sleep \(marker)1; echo never > RESULT", image: ContainerFixtures.dockerImage,
            handler: try engine.handler(), timeout: .seconds(1))
        // The job sleeps for many minutes: its failure comes from the timeout, as its text says.
        let message = try await jobs.failure(job)
        #expect(message.contains("Error: Timeout: the job ran longer than 1.0 seconds"), "\(message)")
        #expect(ContainerFixtures.processes(containing: "sleep \(marker)") == [])
        #expect(try await engine.leftovers(jobID: job.jobID) == "")
    }

    @Test("20 concurrent container jobs", arguments: Engine.allCases)
    func twentyAtOnce(_ engine: Engine) async throws {
        try await engine.require()
        let jobs = try ContainerJobs()
        defer { jobs.cleanUp() }
        let handler = try engine.handler()
        let started = ContinuousClock.now
        let results = try await withThrowingTaskGroup(of: (Int, Checksum).self) { group in
            for index in 0..<20 {
                let job = try await jobs.job(
                    code: "echo $((n * 2)) > RESULT", pins: [("n", "int", [UInt8](text: "\(index)\n"))], output: "int",
                    image: ContainerFixtures.dockerImage, handler: handler)
                group.addTask { (index, try await jobs.run(job)) }
            }
            return try await group.reduce(into: [Int: Checksum]()) { $0[$1.0] = $1.1 }
        }
        let elapsed = ContinuousClock.now - started
        print("\(engine): 20 concurrent container jobs in \(elapsed)")
        #expect(results.count == 20)
        for (index, checksum) in results {
            let expected = try await jobs.buffers.put(
                try CelltypeCodec.serialize(.int(Int64(index * 2)), as: .int), expected: nil)
            #expect(checksum == expected, "job \(index)")
        }
    }

    @Test("docker: the broker's uid, no network, CPU and memory limits, variables")
    func dockerIsolationAndLimits() async throws {
        try await ContainerFixtures.requireDocker()
        let jobs = try ContainerJobs()
        defer { jobs.cleanUp() }
        let handler = try Engine.docker.handler(extra: "  cpus: 2\n  memory: 64M")
        let code = """
            id -u > RESULT; id -g >> RESULT; ls /sys/class/net >> RESULT
            cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null >> RESULT || cat /sys/fs/cgroup/memory.max >> RESULT
            cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null >> RESULT || cut -d' ' -f1 /sys/fs/cgroup/cpu.max >> RESULT
            echo "$HOME $weird" >> RESULT; touch made-by-job
            """
        // __meta__.ncores 1 is below the handler's 2 CPUs, so it wins; memory stays the handler's.
        let job = try await jobs.job(
            code: code,
            pins: [("HOME", "int", [UInt8](text: "5\n")), ("weird", "str", [UInt8](text: "\"a b $x ' \\\"\"\n"))],
            meta: ["ncores": .int(1)], image: ContainerFixtures.dockerImage, handler: handler)
        let plugin = try ContainerJobs.plugin(handler)
        let prepared = try await plugin.prepare(job)
        defer { try? WorkDirectory(path: prepared.workDirectory).remove() }
        #expect(prepared.execution.resources.cores == 1)
        let outcome = try await ContainerJobs.backend(handler).run(prepared.execution, events: ExecutionEvents())
        #expect(outcome.termination == .exited(0))
        let work = prepared.execution.workDirectory
        let result = try String(contentsOfFile: work + "/RESULT", encoding: .utf8)
        #expect(result == "\(getuid())\n\(getgid())\nlo\n67108864\n100000\n5 a b $x ' \"\n")
        let owner =
            try FileManager.default.attributesOfItem(atPath: work + "/made-by-job")[.ownerAccountID] as? NSNumber
        #expect(owner?.uint32Value == getuid())
    }

    @Test(
        "docker: a RESULT that links to a host file, or holds such a link, fails the job; the host file is never stored"
    )
    func dockerResultLinksOutside() async throws {
        try await ContainerFixtures.requireDocker()
        let jobs = try ContainerJobs()
        defer { jobs.cleanUp() }
        let secret = NSTemporaryDirectory() + "shunter-host-secret-\(UUID().uuidString)"
        let content = Array("host secret \(UUID().uuidString)\n".utf8)
        #expect(FileManager.default.createFile(atPath: secret, contents: Data(content)))
        defer { try? FileManager.default.removeItem(atPath: secret) }
        let handler = try Engine.docker.handler()
        for (code, output) in [
            ("ln -s \(secret) RESULT", "bytes"), ("mkdir RESULT; echo 1 > RESULT/a; ln -s \(secret) RESULT/b", "plain"),
        ] {
            let job = try await jobs.job(
                code: code, output: output, image: ContainerFixtures.dockerImage, handler: handler)
            do {
                let checksum = try await jobs.run(job)
                Issue.record("\(code): stored \(checksum)")
            } catch let failure as JobFailure {
                #expect(failure.kind == .badResult)
                #expect(
                    failure.message.contains("is a symbolic link to '\(secret)', outside the job's work directory"),
                    "\(failure.message)")
            }
        }
        #expect(try await jobs.buffers.has([HashAlgorithm.sha256.checksum(of: content)]) == [false])
    }

    @Test("docker: the journaled container name lets a restarted broker remove what a crashed one left running")
    func dockerAbandon() async throws {
        try await ContainerFixtures.requireDocker()
        let handler = try Engine.docker.handler()
        let backend = try ContainerJobs.backend(handler)
        let jobs = try ContainerJobs()
        defer { jobs.cleanUp() }
        let job = try await jobs.job(
            code: "touch started; sleep 947", image: ContainerFixtures.dockerImage, handler: handler)
        let prepared = try await ContainerJobs.plugin(handler).prepare(job)
        let (names, sink) = AsyncStream.makeStream(of: String.self)
        let running = Task {
            try await backend.run(prepared.execution, events: ExecutionEvents { name in sink.yield(name) })
        }
        var iterator = names.makeAsyncIterator()
        let name = try #require(await iterator.next())
        try await Self.waitFor(prepared.execution.workDirectory + "/started")
        // A new broker knows only the journaled name.
        await (try ContainerJobs.backend(handler)).abandon(externalID: name)
        let outcome = try await running.value
        #expect(outcome.succeeded == false, "the job was stopped, not completed")
        #expect(try await Engine.docker.leftovers(jobID: job.jobID) == "")
        #expect(ContainerFixtures.processes(containing: "sleep 947") == [])
    }

    @Test("docker: a missing image fails with how to provide it; the job's own exit 125 stays a job failure")
    func dockerMissingImageAndExit125() async throws {
        try await ContainerFixtures.requireDocker()
        let jobs = try ContainerJobs()
        defer { jobs.cleanUp() }
        let handler = try Engine.docker.handler()
        do {
            _ = try await jobs.run(
                try await jobs.job(code: "echo 1 > RESULT", image: "shunter-test/absent:1", handler: handler))
            Issue.record("a job with a missing image ran")
        } catch let error as BackendError {
            #expect(
                "\(error)".contains("shunter-test/absent:1 is not in the Docker engine")
                    || "\(error)".contains("the image is not in the Docker engine"))
            #expect("\(error)".contains("docker load"))
        }
        let message = try await jobs.failure(
            try await jobs.job(
                code: "echo 1 > RESULT; exit 125", image: ContainerFixtures.dockerImage, handler: handler))
        #expect(message.contains("Error: Return code 125"))
    }

    @Test("docker: an archive in image_dir is loaded once however many jobs need it at once")
    func dockerLoadsArchiveOnce() async throws {
        try await ContainerFixtures.requireDocker()
        let jobs = try ContainerJobs()
        defer { jobs.cleanUp() }
        let image = "shunter-test/loadable:\(UInt32.random(in: 0 ... .max))"
        let directory = jobs.root + "/images"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let archive = "\(directory)/\(ContainerImageName.fileStem(image)).tar"
        #expect(try await ContainerFixtures.tool("docker", ["tag", ContainerFixtures.dockerImage, image]).status == 0)
        #expect(try await ContainerFixtures.tool("docker", ["save", "-o", archive, image]).status == 0)
        #expect(try await ContainerFixtures.tool("docker", ["rmi", image]).status == 0)
        defer { Task { _ = try? await ContainerFixtures.tool("docker", ["rmi", image]) } }

        let handler = try Engine.docker.handler(extra: "  image_dir: \(directory)")
        let images = ImageProvisioner<Bool>()
        let backend = DockerBackend(
            settings: try DockerBackend(handler: handler).settings, killGrace: .seconds(2), images: images)
        let checksums = try await withThrowingTaskGroup(of: Checksum.self) { group in
            for _ in 0..<5 {
                let job = try await jobs.job(code: "echo loaded > RESULT", image: image, handler: handler)
                group.addTask { try await jobs.run(job, backend: backend) }
            }
            return try await group.reduce(into: Set<Checksum>()) { $0.insert($1) }
        }
        #expect(checksums.count == 1)
        #expect(await images.runs.values.reduce(0, +) == 1, "one provisioning for five jobs")
    }

    @Test("apptainer: a docker archive is converted to SIF once however many jobs need it at once")
    func apptainerConvertsOnce() async throws {
        try await ContainerFixtures.requireApptainer()
        let jobs = try ContainerJobs()
        defer { jobs.cleanUp() }
        let directory = jobs.root + "/images"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let stem = ContainerImageName.fileStem(ContainerFixtures.dockerImage)
        try FileManager.default.copyItem(
            atPath: "\(ContainerFixtures.imageDirectory)/\(stem).tar", toPath: "\(directory)/\(stem).tar")

        let handler = try ContainerJobs.apptainerHandler(imageDirectory: directory)
        let images = ImageProvisioner<String>()
        let backend = ApptainerBackend(
            settings: try ApptainerBackend(handler: handler).settings, killGrace: .seconds(2), images: images)
        let started = ContinuousClock.now
        let checksums = try await withThrowingTaskGroup(of: Checksum.self) { group in
            for _ in 0..<5 {
                let job = try await jobs.job(
                    code: "echo converted > RESULT", image: ContainerFixtures.dockerImage, handler: handler)
                group.addTask { try await jobs.run(job, backend: backend) }
            }
            return try await group.reduce(into: Set<Checksum>()) { $0.insert($1) }
        }
        print("apptainer: conversion and 5 jobs in \(ContinuousClock.now - started)")
        #expect(checksums.count == 1)
        #expect(await images.runs == ["\(directory)/\(stem).sif": 1])
        #expect(FileManager.default.fileExists(atPath: "\(directory)/\(stem).sif"))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory).filter {
            $0.hasSuffix(".partial")
        }
        #expect(leftovers == [])
    }

    @Test("apptainer: a missing image names the files looked for")
    func apptainerMissingImage() async throws {
        try await ContainerFixtures.requireApptainer()
        let jobs = try ContainerJobs()
        defer { jobs.cleanUp() }
        do {
            _ = try await jobs.run(
                try await jobs.job(
                    code: "echo 1 > RESULT", image: "rpbs/absent", handler: try ContainerJobs.apptainerHandler()))
            Issue.record("a job with a missing image ran")
        } catch let error as BackendError {
            #expect(
                "\(error)".contains("rpbs_absent_latest.sif, rpbs_absent_latest/ and rpbs_absent_latest.tar"),
                "\(error)")
        }
    }
}
