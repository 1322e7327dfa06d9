import Foundation
import Logging
import ShunterBackends
import ShunterCore
import ShunterHandlers
import ShunterPlugins
import ShunterStore

/// The engines and images these tests run against, as scripts/setup-containers.sh leaves them.
enum ContainerFixtures {
    static let dockerImage = "shunter-test/busybox:1"

    /// Where setup-containers.sh puts the SIF file and the docker archive.
    static var imageDirectory: String {
        if let configured = ProcessInfo.processInfo.environment["SHUNTER_CONTAINER_IMAGES"] { return configured }
        // Tests/ShunterContainerTests/<this file> → the package root.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.path + "/.build/container-images"
    }

    static let howToSetUp =
        "run scripts/setup-containers.sh as root (scripts/test.sh does): it starts Docker, installs Apptainer and builds the test images"

    /// Fails the calling test with a message saying how to get what is missing.
    static func requireDocker() async throws {
        let backend = DockerBackend(settings: DockerBackend.Settings())
        if let problem = await backend.availabilityProblem() {
            throw MissingComponent("Docker: \(problem); \(howToSetUp)")
        }
        let inspect = try await tool("docker", ["image", "inspect", dockerImage])
        guard inspect.status == 0 else {
            throw MissingComponent("the docker image \(dockerImage) is missing; \(howToSetUp)")
        }
    }

    static func requireApptainer() async throws {
        var settings = ApptainerBackend.Settings()
        settings.imageDirectory = imageDirectory
        if let problem = await ApptainerBackend(settings: settings).availabilityProblem() {
            throw MissingComponent("Apptainer: \(problem); \(howToSetUp)")
        }
        let sif = imageDirectory + "/" + ContainerImageName.fileStem(dockerImage) + ".sif"
        guard FileManager.default.fileExists(atPath: sif) else {
            throw MissingComponent("\(sif) is missing; \(howToSetUp)")
        }
    }

    /// Runs a command to look at the system (ps, docker ps); its output as text.
    static func tool(_ name: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await Task.detached {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [name] + arguments
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self))
        }.value
    }

    /// Processes on this machine whose command line contains `marker` (a job's unique text).
    static func processes(containing marker: String) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { pid -> String? in
            guard Int(pid) != nil, let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else {
                return nil
            }
            let line = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            // Our own test's `pgrep`-like reading never matches: the marker is only in job commands.
            return line.contains(marker) ? "\(pid): \(line)" : nil
        }
    }
}

struct MissingComponent: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// One test's jobs: a temporary work root, a buffer store, and handlers read from YAML the way
/// an admin writes them, so the options are parsed by the real code.
struct ContainerJobs {
    let root: String
    let buffers: any BufferStore = MemoryBufferStore()

    init() throws {
        root = NSTemporaryDirectory() + "shunter-container-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: root) }

    /// A handler from YAML text (one handler), validated against the built-in catalog.
    static func handler(_ yaml: String) throws -> HandlerConfig {
        let loaded = HandlerLoader(catalog: JobPluginRegistry.catalog()).parse(yaml: yaml, file: "test-handler.yaml")
        if let error = loaded.errors.first { throw error }
        guard let handler = loaded.handlers.first else { throw MissingComponent("the YAML defines no enabled handler") }
        return handler
    }

    static func dockerHandler(extra: String = "", containerBash: String = "") throws -> HandlerConfig {
        try handler(
            """
            name: docker-test
            plugin: container-bash
            backend: docker
            match: {image: any}
            container-bash:
              shell: /bin/sh
            \(containerBash)
            docker:
              network: none
            \(extra)
            """)
    }

    static func apptainerHandler(imageDirectory: String = ContainerFixtures.imageDirectory, extra: String = "") throws
        -> HandlerConfig
    {
        try handler(
            """
            name: apptainer-test
            plugin: container-bash
            backend: apptainer
            match: {image: any}
            container-bash:
              shell: /bin/sh
            apptainer:
              image_dir: \(imageDirectory)
            \(extra)
            """)
    }

    static let localHandler = HandlerConfig(name: "bash-test", plugin: "bash", backend: "local")

    /// Stores the code and pins and builds the job as a client would send it.
    func job(
        code: String, pins: [(name: String, celltype: String, buffer: [UInt8])] = [], output: String = "bytes",
        renames: [String: String] = [:], meta: [String: JSONValue] = [:], image: String?, handler: HandlerConfig,
        timeout: Duration? = nil, jobID: String = UUID().uuidString
    ) async throws -> JobContext {
        let code = try await buffers.put(try CelltypeCodec.serialize(.string(code), as: .text), expected: nil)
        var dict: [String: JSONValue] = [
            "__language__": .string("bash"),
            "__output__": .array([.string("result"), .string(output), .null]),
            "code": .array([.string("text"), .null, .string(code.hex)]),
        ]
        for pin in pins {
            let checksum = try await buffers.put(pin.buffer, expected: nil)
            dict[pin.name] = .array([.string(pin.celltype), .null, .string(checksum.hex)])
        }
        if !renames.isEmpty { dict["__as__"] = .object(renames.mapValues { .string($0) }) }
        if !meta.isEmpty { dict["__meta__"] = .object(meta) }
        var handler = handler
        handler.limits.timeout = timeout
        return JobContext(
            jobID: jobID, transformation: try Transformation.parse(dict: dict),
            environment: image.map { TransformationEnvironment(image: $0) }, handler: handler,
            buffers: buffers, workRoot: root, logger: Logger(label: "container-test"))
    }

    /// prepare → run → store the result through the handler's own plugin and backend, as the
    /// broker does; the result's checksum.
    func run(_ job: JobContext, backend: (any Backend)? = nil) async throws -> Checksum {
        let plugin = try Self.plugin(job.handler)
        let backend = try backend ?? Self.backend(job.handler)
        let prepared = try await plugin.prepare(job)
        defer { try? WorkDirectory(path: prepared.workDirectory).remove() }
        let outcome = try await backend.run(prepared.execution, events: ExecutionEvents())
        return try await plugin.storeResult(job, prepared: prepared, outcome: outcome)
    }

    static func plugin(_ handler: HandlerConfig) throws -> any JobPlugin {
        try JobPluginRegistry.descriptor(named: handler.plugin)!.make(handler)
    }

    static func backend(_ handler: HandlerConfig) throws -> any Backend {
        try BackendRegistry.descriptor(named: handler.backend)!.make(handler, BackendContext(killGrace: .seconds(2)))
    }

    /// The same, but the failure text instead of a result.
    func failure(_ job: JobContext) async throws -> String {
        do {
            let checksum = try await run(job)
            throw MissingComponent("expected the job to fail, it gave \(checksum)")
        } catch let failure as JobFailure {
            return failure.message
        }
    }
}

extension Array where Element == UInt8 {
    init(text: String) { self = Array(text.utf8) }
}
