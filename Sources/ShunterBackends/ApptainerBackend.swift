import Foundation
import Logging
import ShunterHandlers

/// Runs an execution inside an Apptainer (Singularity) container: `apptainer exec` of an
/// image found in the handler's image directory.
///
/// - Images are files, not registry references: `image_dir/<stem>.sif` (a SIF file) or
///   `image_dir/<stem>/` (a sandbox directory), where the stem is the image name with its tag
///   and `/ : @` turned into `_` (`ContainerImageName.fileStem`: `rpbs/tool:1.2` →
///   `rpbs_tool_1.2`). A `docker save` archive `image_dir/<stem>.tar` is converted to
///   `<stem>.sif` on first use, once however many jobs ask at the same time.
/// - Isolation: `--containall` (own PID, IPC and mount namespaces, no host home or /tmp) and
///   `--no-privs` (no capabilities, even for root), both on unless the handler turns them
///   off; `--cleanenv`, so the job sees its own variables and Apptainer's, not the broker's.
/// - The work directory is bound at its own path and is the working directory.
/// - The `apptainer` process runs through `LocalBackend`: in its own session, so a timeout or
///   a cancel stops the whole process tree (TERM, grace, KILL to the group; with
///   `--containall` the job's processes also live in a PID namespace that dies with it).
package struct ApptainerBackend: AvailabilityReporting {
    package static let descriptor = BackendDescriptor(
        component: ComponentCatalog.Component(
            name: "apptainer",
            summary:
                "runs the job in an Apptainer container from a SIF file or sandbox directory of the image directory; "
                + "a timeout or a cancel stops the whole process tree",
            optionSection: "apptainer",
            optionKeys: [
                "executable":
                    "apptainer (or singularity) client, a name looked up on PATH or a path (default apptainer)",
                "image_dir": "directory of images: NAME_TAG.sif, NAME_TAG/ sandboxes, NAME_TAG.tar docker archives "
                    + "(see docs/containers.md; default \(Settings.defaultImageDirectory))",
                "containall":
                    "true (default): --containall, own PID/IPC namespaces and no host home, /tmp or environment",
                "no_privs": "true (default): --no-privs, no capabilities inside the container even for root",
                "extra_args": "list of further `apptainer exec` arguments, placed before the image",
            ]
        ),
        make: { handler, context in try ApptainerBackend(handler: handler, killGrace: context.killGrace) }
    )

    package struct Settings: Sendable, Hashable {
        package static let defaultImageDirectory = "/var/lib/shunter/images"

        package var executable: String = "apptainer"
        package var imageDirectory: String = Settings.defaultImageDirectory
        package var containAll = true
        package var noPrivileges = true
        package var extraArguments: [String] = []

        package init() {}
    }

    /// Broker variables the apptainer client itself reads (`APPTAINER_HOST_BINDS` is read by
    /// the wrapper that scripts/install-apptainer.sh installs on Debian 12).
    static let clientVariables = [
        "PATH", "HOME", "XDG_RUNTIME_DIR", "APPTAINER_CACHEDIR", "APPTAINER_TMPDIR", "APPTAINER_CONFIGDIR",
        "APPTAINER_HOST_BINDS",
    ]

    /// One conversion per image file, shared by every apptainer handler of the broker.
    package static let sharedImages = ImageProvisioner<String>()

    package let settings: Settings
    package let killGrace: Duration
    let executablePath: String?
    let clientEnvironment: [String: String]
    let images: ImageProvisioner<String>
    let logger: Logger

    package init(
        settings: Settings, killGrace: Duration = .seconds(5),
        brokerEnvironment: [String: String] = ProcessInfo.processInfo.environment,
        images: ImageProvisioner<String> = ApptainerBackend.sharedImages,
        logger: Logger = Logger(label: "shunter.backend.apptainer")
    ) {
        self.settings = settings
        self.killGrace = killGrace
        self.clientEnvironment = brokerEnvironment.filter { Self.clientVariables.contains($0.key) }
        let path = brokerEnvironment["PATH"]
        self.executablePath =
            ContainerTool.locate(settings.executable, searchPath: path)
            ?? (settings.executable == "apptainer" ? ContainerTool.locate("singularity", searchPath: path) : nil)
        self.images = images
        self.logger = logger
    }

    /// Reads the handler's `apptainer:` section.
    package init(handler: HandlerConfig, killGrace: Duration = .seconds(5)) throws {
        let options = try OptionReader(
            section: "apptainer", of: handler, accepted: Self.descriptor.component.optionKeys.keys)
        var settings = Settings()
        settings.executable = try options.string("executable") ?? settings.executable
        settings.imageDirectory = try options.string("image_dir") ?? settings.imageDirectory
        settings.containAll = try options.bool("containall") ?? true
        settings.noPrivileges = try options.bool("no_privs") ?? true
        settings.extraArguments = try options.stringList("extra_args") ?? []
        self.init(settings: settings, killGrace: killGrace)
    }

    var tool: ContainerTool? {
        executablePath.map { ContainerTool(path: $0, environment: toolEnvironment(binding: [settings.imageDirectory])) }
    }

    package func availabilityProblem() async -> String? {
        guard let tool else {
            return
                "neither '\(settings.executable)' nor singularity is on PATH: install Apptainer (https://apptainer.org/docs/admin/main/installation.html), or on Debian run scripts/install-apptainer.sh of Shunter's repository as root"
        }
        do {
            let version = try await tool.run(["--version"])
            if !version.succeeded { return "\(tool.path) --version failed: \(version.message)" }
        } catch {
            return "cannot run \(tool.path): \(error)"
        }
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: settings.imageDirectory, isDirectory: &isDirectory)
            || !isDirectory.boolValue
        {
            return "the image directory apptainer.image_dir \(settings.imageDirectory) does not exist"
        }
        return nil
    }

    /// Reports the `apptainer` process's identity (through `LocalBackend`), by which recovery
    /// stops what a crashed broker left: inside the container, the job's processes need not
    /// work in a directory the broker knows.
    package var recoveryModel: RecoveryModel { .rerunFoundByExternalID }

    /// The apptainer process runs as a local process group: stop what a crashed broker left.
    package func abandon(externalID: String) async {
        await LocalBackend(killGrace: killGrace, logger: logger).abandon(externalID: externalID)
    }

    package func run(_ execution: Execution, events: ExecutionEvents) async throws -> ExecutionOutcome {
        try Task.checkCancellation()
        guard let tool else {
            throw BackendError.unavailable(
                backend: "apptainer", reason: "neither '\(settings.executable)' nor singularity is on the broker's PATH"
            )
        }
        guard let image = execution.image else {
            throw BackendError.launchFailed(
                command: "apptainer exec", reason: "the job names no image (the plugin gave none)")
        }
        if let problem = ContainerImageName.problem(with: image) {
            throw BackendError.launchFailed(command: "apptainer exec", reason: problem)
        }
        let imagePath = try await resolveImage(image, tool: tool)
        let client = try clientExecution(execution, tool: tool, imagePath: imagePath)
        let local = LocalBackend(killGrace: killGrace, logger: logger)
        return try await local.run(client, events: events)
    }

    /// `apptainer exec` of the job's command, with the job's variables as `APPTAINERENV_*`
    /// (so their values never show on a command line).
    func clientExecution(_ execution: Execution, tool: ContainerTool, imagePath: String) throws -> Execution {
        let directory = execution.workDirectory
        if directory.contains(":") || directory.contains(",") {
            throw BackendError.launchFailed(
                command: "apptainer exec",
                reason: "the work directory \(directory) contains ':' or ',', which --bind cannot name")
        }
        var arguments = ["--silent", "exec"]
        if settings.containAll { arguments.append("--containall") }
        if settings.noPrivileges { arguments.append("--no-privs") }
        arguments += ["--cleanenv", "--pwd", directory, "--bind", directory]
        arguments += settings.extraArguments
        arguments.append(imagePath)
        arguments += execution.command

        var variables = toolEnvironment(binding: [settings.imageDirectory, directory])
        for (name, value) in execution.environment {
            // Apptainer passes only variables with shell names; a pin named otherwise has a
            // file but no variable, which is all bash could use anyway.
            guard Self.isShellName(name) else { continue }
            guard !value.contains("\0") else {
                throw BackendError.launchFailed(
                    command: "apptainer exec", reason: "illegal environment variable value: '\(name)'")
            }
            variables["APPTAINERENV_" + name] = value
        }
        return Execution(
            jobID: execution.jobID, handler: execution.handler, workDirectory: directory,
            command: [tool.path] + arguments, environment: variables, timeout: execution.timeout,
            stdoutPath: execution.stdoutPath, stderrPath: execution.stderrPath)
    }

    /// The client's environment; `binding` is added to `APPTAINER_HOST_BINDS`, which only the
    /// wrapper of scripts/install-apptainer.sh reads (it otherwise shows the sid root few host folders).
    func toolEnvironment(binding folders: [String]) -> [String: String] {
        var variables = clientEnvironment
        variables["APPTAINER_HOST_BINDS"] = ([clientEnvironment["APPTAINER_HOST_BINDS"]].compactMap { $0 } + folders)
            .joined(separator: " ")
        return variables
    }

    static func isShellName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic)
        else {
            return false
        }
        return name.unicodeScalars.allSatisfy {
            $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)))
        }
    }

    // MARK: - Images

    /// Where `image` lives in the image directory, converting a docker archive to SIF first
    /// when that is all there is.
    func resolveImage(_ image: String, tool: ContainerTool) async throws -> String {
        let directory = settings.imageDirectory
        let stem = ContainerImageName.fileStem(image)
        let sif = "\(directory)/\(stem).sif"
        let sandbox = "\(directory)/\(stem)"
        let archive = "\(directory)/\(stem).tar"
        return try await images.value(for: sif) { [logger] in
            let manager = FileManager.default
            var isDirectory: ObjCBool = false
            if manager.fileExists(atPath: sif, isDirectory: &isDirectory), !isDirectory.boolValue { return sif }
            if manager.fileExists(atPath: sandbox, isDirectory: &isDirectory), isDirectory.boolValue { return sandbox }
            guard manager.fileExists(atPath: archive) else {
                throw BackendError.launchFailed(
                    command: "apptainer exec \(image)",
                    reason: "no image for \(image) in \(directory): looked for \(stem).sif, \(stem)/ and \(stem).tar; "
                        + "build one with `apptainer build \(sif) ROOTFS_DIR` or `apptainer build \(sif) docker-archive:ARCHIVE.tar` "
                        + "(see docs/containers.md)")
            }
            // Built under a temporary name and renamed, so no job ever sees half a SIF file.
            let partial = "\(directory)/.\(stem).sif.\(UInt32.random(in: .min ... .max)).partial"
            logger.notice("converting docker archive to SIF", metadata: ["image": "\(image)", "archive": "\(archive)"])
            let build = try await tool.run(["--silent", "build", partial, "docker-archive:\(archive)"])
            guard build.succeeded else {
                try? manager.removeItem(atPath: partial)
                throw BackendError.launchFailed(
                    command: "apptainer build \(sif) docker-archive:\(archive)", reason: build.message)
            }
            do {
                if manager.fileExists(atPath: sif) {
                    try manager.removeItem(atPath: partial)
                } else {
                    try manager.moveItem(atPath: partial, toPath: sif)
                }
            } catch {
                throw BackendError.launchFailed(
                    command: "apptainer build \(sif)", reason: "cannot move the built image into place: \(error)")
            }
            return sif
        }
    }
}
