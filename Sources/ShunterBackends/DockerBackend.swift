import Foundation
import Logging
import ShunterHandlers

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Runs an execution inside a container of a local Docker engine, with `docker run`.
///
/// - The work directory is bind-mounted at its own path and is the container's working
///   directory; the container runs as the broker's uid:gid (`--user`), so what the job
///   writes is owned by the broker's user, not by root.
/// - `--network=none` unless the handler says `network: host`; no capabilities, no new
///   privileges; `docker-init` as PID 1 so the job's shell gets signals as on a host.
/// - CPU and memory limits: the handler's `cpus`/`memory` and the job's request
///   (`Execution.resources`), the lower of the two when both are given.
/// - The container is named after the job and removed afterwards (`--rm`). A timeout or a
///   cancel stops the container itself (`docker kill`, TERM then KILL after the grace period),
///   not only the client, then removes it. The name is reported as the external id, so a
///   broker restarted after a crash removes what its predecessor left running.
/// - No registry is assumed: the image must be in the engine already, or be a `docker save`
///   archive in `image_dir` (loaded on first use, once however many jobs ask at once).
package struct DockerBackend: AvailabilityReporting {
    package static let descriptor = BackendDescriptor(
        component: ComponentCatalog.Component(
            name: "docker",
            summary: "runs the job in a container of the local Docker engine (work directory bind-mounted, "
                + "the broker's uid, --network=none by default); a timeout or a cancel kills the container",
            optionSection: "docker",
            optionKeys: [
                "executable": "the docker client, a name looked up on PATH or a path (default docker)",
                "network": "none (default) or host",
                "cpus": "CPU limit per container, a number (the job's __meta__.ncores, when lower, wins)",
                "memory": "memory limit per container, a size such as 2G (the job's request, when lower, wins)",
                "image_dir":
                    "directory of `docker save` archives (NAME_TAG.tar, see docs/containers.md) loaded when an image is not in the engine",
                "init": "true (default): docker-init runs as PID 1 so the job's shell receives signals normally",
                "drop_capabilities": "true (default): --cap-drop=ALL --security-opt=no-new-privileges",
                "extra_args": "list of further `docker run` arguments, placed before the image",
            ]
        ),
        make: { handler, context in try DockerBackend(handler: handler, killGrace: context.killGrace) }
    )

    package enum Network: String, Sendable, CaseIterable {
        case none
        case host
    }

    package struct Settings: Sendable, Hashable {
        package var executable: String = "docker"
        package var network: Network = .none
        package var cpus: Double?
        package var memoryBytes: Int64?
        package var imageDirectory: String?
        package var runsInit = true
        package var dropsCapabilities = true
        package var extraArguments: [String] = []

        package init() {}
    }

    /// Variables of the broker that the docker client itself needs (where the engine is, its
    /// credentials); the job never sees them unless it has a variable of the same name.
    static let clientVariables = [
        "PATH", "HOME", "XDG_RUNTIME_DIR", "DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG",
        "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY", "DOCKER_API_VERSION",
    ]

    /// One `docker load` per image and engine, shared by every docker handler of the broker.
    package static let sharedImages = ImageProvisioner<Bool>()

    package let settings: Settings
    package let killGrace: Duration
    /// The docker client, nil when it is not installed.
    let executablePath: String?
    let clientEnvironment: [String: String]
    let images: ImageProvisioner<Bool>
    let logger: Logger

    package init(
        settings: Settings, killGrace: Duration = .seconds(5),
        brokerEnvironment: [String: String] = ProcessInfo.processInfo.environment,
        images: ImageProvisioner<Bool> = DockerBackend.sharedImages,
        logger: Logger = Logger(label: "shunter.backend.docker")
    ) {
        self.settings = settings
        self.killGrace = killGrace
        self.clientEnvironment = brokerEnvironment.filter { Self.clientVariables.contains($0.key) }
        self.executablePath = ContainerTool.locate(settings.executable, searchPath: brokerEnvironment["PATH"])
        self.images = images
        self.logger = logger
    }

    /// Reads the handler's `docker:` section.
    package init(handler: HandlerConfig, killGrace: Duration = .seconds(5)) throws {
        let options = try OptionReader(
            section: "docker", of: handler, accepted: Self.descriptor.component.optionKeys.keys)
        var settings = Settings()
        settings.executable = try options.string("executable") ?? settings.executable
        settings.network = try options.choice("network", as: Network.self) ?? settings.network
        // A bound no machine reaches keeps later conversions to whole numbers from trapping.
        settings.cpus = try options.number("cpus", above: 0, atMost: 1_048_576)
        settings.memoryBytes = try options.size("memory")
        settings.imageDirectory = try options.string("image_dir")
        settings.runsInit = try options.bool("init") ?? true
        settings.dropsCapabilities = try options.bool("drop_capabilities") ?? true
        settings.extraArguments = try options.stringList("extra_args") ?? []
        self.init(settings: settings, killGrace: killGrace)
    }

    var tool: ContainerTool? {
        executablePath.map { ContainerTool(path: $0, environment: clientEnvironment) }
    }

    package func availabilityProblem() async -> String? {
        guard let tool else {
            return
                "the docker client '\(settings.executable)' is not on PATH: install Docker (https://docs.docker.com/engine/install/), or on Debian run scripts/start-docker.sh of Shunter's repository as root (no bridge network, no iptables)"
        }
        do {
            let version = try await tool.run(["version", "--format", "{{.Server.Version}}"])
            if !version.succeeded {
                return
                    "the Docker engine does not answer (start it, e.g. with scripts/start-docker.sh of Shunter's repository as root): \(version.message)"
            }
        } catch {
            return "cannot run \(tool.path): \(error)"
        }
        if let directory = settings.imageDirectory, !FileManager.default.fileExists(atPath: directory) {
            return "docker.image_dir \(directory) does not exist"
        }
        return nil
    }

    /// Reports the container's name once its image is there; only that name finds it again.
    package var recoveryModel: RecoveryModel { .rerunFoundByExternalID }

    /// Removes the container a crashed broker left behind (the external id is its name).
    package func abandon(externalID: String) async {
        guard let tool, externalID.hasPrefix(Self.namePrefix) else { return }
        let removal = await tool.runUncancelled(["rm", "--force", externalID])
        if removal.succeeded {
            logger.notice("removed the container a crashed broker left", metadata: ["container": "\(externalID)"])
        }
    }

    package func run(_ execution: Execution, events: ExecutionEvents) async throws -> ExecutionOutcome {
        try Task.checkCancellation()
        let started = ContinuousClock.now
        guard let tool else {
            throw BackendError.unavailable(
                backend: "docker", reason: "the docker client '\(settings.executable)' is not on the broker's PATH")
        }
        guard let image = execution.image else {
            throw BackendError.launchFailed(
                command: "docker run", reason: "the job names no image (the plugin gave none)")
        }
        if let problem = ContainerImageName.problem(with: image) {
            throw BackendError.launchFailed(command: "docker run", reason: problem)
        }
        try await ensureImage(image, tool: tool)

        let name = Self.containerName(jobID: execution.jobID)
        let (arguments, variables) = try runArguments(execution, image: image, name: name)
        let client = Execution(
            jobID: execution.jobID, handler: execution.handler, workDirectory: execution.workDirectory,
            command: [tool.path] + arguments, environment: variables,
            stdoutPath: execution.stdoutPath, stderrPath: execution.stderrPath)
        // Journaled before the container exists, so that a crash from here on is cleaned up.
        try await events.started(name)

        let local = LocalBackend(killGrace: killGrace, logger: logger)
        let clientRun = Task { try await local.run(client, events: ExecutionEvents()) }
        let grace = killGrace
        let finish = try await TimeLimitedRun.race(
            timeout: execution.timeout, run: { try await clientRun.value },
            stop: { await Self.stop(container: name, client: clientRun, tool: tool, grace: grace) })
        switch finish {
        case .timedOut:
            logger.info("timed out; container killed", metadata: ["job": "\(execution.jobID)", "container": "\(name)"])
            let wallTime = ContinuousClock.now - started
            return ExecutionOutcome(
                termination: .timedOut(execution.timeout ?? wallTime), wallTime: wallTime, externalID: name)
        case .finished(var outcome):
            // 125 is docker's own failure (no such image, a bad option), before the job ran; the
            // client then says so on stderr as `docker: ...`.
            if outcome.termination == .exited(125), let complaint = Self.dockerComplaint(in: execution.stderrPath) {
                if complaint.contains("No such image") { await images.forget(imageKey(image, tool: tool)) }
                throw BackendError.launchFailed(command: "docker run \(image)", reason: complaint)
            }
            outcome.externalID = name
            return outcome
        }
    }

    // MARK: - The docker run command

    /// The arguments of `docker run` and the client's environment. Job variables travel as
    /// `--env NAME` with the value in the client's environment (never on a command line that
    /// `ps` shows), except those whose name the client needs itself, which go as NAME=VALUE.
    func runArguments(_ execution: Execution, image: String, name: String) throws -> ([String], [String: String]) {
        let directory = execution.workDirectory
        if directory.contains(":") || directory.contains(",") {
            throw BackendError.launchFailed(
                command: "docker run",
                reason: "the work directory \(directory) contains ':' or ',', which a bind mount cannot name")
        }
        var arguments = [
            "run", "--rm", "--name", name, "--pull=never", "--network=\(settings.network.rawValue)",
            "--user", "\(getuid()):\(getgid())",
            "--volume", "\(directory):\(directory)", "--workdir", directory,
            "--log-driver=none",
            "--label", "org.shunter.job=\(execution.jobID)", "--label", "org.shunter.handler=\(execution.handler)",
        ]
        if settings.runsInit { arguments.append("--init") }
        if settings.dropsCapabilities { arguments += ["--cap-drop=ALL", "--security-opt=no-new-privileges"] }
        if let cpus = Self.lower(settings.cpus, execution.resources.cores.map(Double.init)) {
            // The engine refuses more CPUs than the machine has.
            let available = Double(ProcessInfo.processInfo.activeProcessorCount)
            arguments.append("--cpus=\(Self.format(min(cpus, available)))")
        }
        if let memory = Self.lower(settings.memoryBytes, execution.resources.memoryBytes) {
            // Swap equal to memory: the limit is a limit, not an invitation to swap.
            arguments += ["--memory=\(memory)", "--memory-swap=\(memory)"]
        }
        var variables = clientEnvironment
        for (variable, value) in execution.environment.sorted(by: { $0.key < $1.key }) {
            guard !variable.isEmpty, !variable.contains("="), !variable.contains("\0"), !value.contains("\0") else {
                throw BackendError.launchFailed(
                    command: "docker run", reason: "illegal environment variable name or value: '\(variable)'")
            }
            if clientEnvironment[variable] != nil {
                arguments += ["--env", "\(variable)=\(value)"]
            } else {
                arguments += ["--env", variable]
                variables[variable] = value
            }
        }
        arguments += settings.extraArguments
        arguments.append(image)
        arguments += execution.command
        return (arguments, variables)
    }

    static let namePrefix = "shunter-"

    /// `shunter-<job id>-<random>`: findable by job, unique even when a job runs again.
    static func containerName(jobID: String) -> String {
        let safe = String(
            jobID.prefix(64).map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" })
        let random = String(UInt32.random(in: .min ... .max), radix: 16)
        return "\(namePrefix)\(safe)-\(random)"
    }

    /// The lower of two optional limits; either alone when the other is absent.
    static func lower<T: Comparable>(_ a: T?, _ b: T?) -> T? {
        switch (a, b) {
        case (let a?, let b?): min(a, b)
        case (let a?, nil): a
        case (nil, let b?): b
        case (nil, nil): nil
        }
    }

    static func format(_ cpus: Double) -> String {
        cpus == cpus.rounded() ? String(Int(cpus)) : String(format: "%.2f", cpus)
    }

    /// Docker's own error lines (`docker: Error response from daemon: ...`) at the end of the
    /// job's stderr, nil if there are none (the job itself exited with 125).
    static func dockerComplaint(in stderrPath: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: stderrPath) else { return nil }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: size > 4096 ? size - 4096 : 0)
        let text = String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
        let lines = text.split(separator: "\n").filter { $0.hasPrefix("docker: ") }
        return lines.isEmpty ? nil : lines.map { String($0.dropFirst("docker: ".count)) }.joined(separator: "; ")
    }

    // MARK: - Stopping

    /// TERM to the container, `grace` for it to end, KILL; then the client ends on its own (it
    /// is cancelled, which stops its process group, only if it does not), and the container
    /// is removed in case the client died before `--rm` could act.
    static func stop(container: String, client: Task<ExecutionOutcome, any Error>, tool: ContainerTool, grace: Duration)
        async
    {
        let term = await tool.runUncancelled(["kill", "--signal=TERM", container])
        if term.succeeded {
            if await !ended(client, within: grace) {
                _ = await tool.runUncancelled(["kill", container])
                if await !ended(client, within: .seconds(10)) { client.cancel() }
            }
        } else {
            // Not created yet (or gone): stop the client before it creates it.
            client.cancel()
        }
        _ = await client.result
        _ = await tool.runUncancelled(["rm", "--force", container])
    }

    /// Whether `task` finishes within `limit`.
    static func ended(_ task: Task<ExecutionOutcome, any Error>, within limit: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { race in
            race.addTask {
                _ = await task.result
                return true
            }
            race.addTask {
                try? await Task.sleep(for: limit)
                return false
            }
            let first = await race.next()!
            race.cancelAll()
            return first
        }
    }

    // MARK: - Images

    func imageKey(_ image: String, tool: ContainerTool) -> String {
        "\(tool.path)|\(clientEnvironment["DOCKER_HOST"] ?? "")|\(image)"
    }

    /// Makes sure the engine has `image`, loading it from `image_dir` on first use.
    func ensureImage(_ image: String, tool: ContainerTool) async throws {
        let directory = settings.imageDirectory
        _ = try await images.value(for: imageKey(image, tool: tool)) { [logger] in
            if try await tool.run(["image", "inspect", "--format", "{{.Id}}", image]).succeeded { return true }
            let stem = ContainerImageName.fileStem(image)
            let candidates = directory.map { dir in ["tar", "tar.gz"].map { "\(dir)/\(stem).\($0)" } } ?? []
            guard let archive = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
                let looked =
                    candidates.isEmpty
                    ? "no docker.image_dir is configured" : "there is no \(candidates.joined(separator: " or "))"
                throw BackendError.launchFailed(
                    command: "docker run \(image)",
                    reason:
                        "the image is not in the Docker engine and \(looked); provide it with `docker load -i ARCHIVE` "
                        + "or `docker import ROOTFS.tar \(ContainerImageName.withTag(image))` (see docs/containers.md)")
            }
            logger.notice("loading image archive", metadata: ["image": "\(image)", "archive": "\(archive)"])
            let load = try await tool.run(["load", "--quiet", "--input", archive])
            guard load.succeeded else {
                throw BackendError.launchFailed(command: "docker load --input \(archive)", reason: load.message)
            }
            guard try await tool.run(["image", "inspect", "--format", "{{.Id}}", image]).succeeded else {
                throw BackendError.launchFailed(
                    command: "docker run \(image)",
                    reason: "\(archive) was loaded but holds no image named \(image) (it holds: \(load.message)); "
                        + "re-create it with `docker save -o \(archive) \(ContainerImageName.withTag(image))`")
            }
            return true
        }
    }
}
