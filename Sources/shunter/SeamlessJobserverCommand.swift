import ArgumentParser
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import ShunterBroker
import ShunterCore
import ShunterHandlers
import ShunterRuntime
import ShunterServer

#if canImport(Glibc)
    import Glibc
#endif

/// `shunter seamless-jobserver`: Shunter started the way Seamless's `remote-http-launcher`
/// starts its Python `seamless-jobserver`, with the same options and status-file contract, so
/// that a client's config-driven launch (`seamless.profile.yaml` with a `jobserver:` frontend)
/// gets Shunter. The `seamless-jobserver` wrapper (`scripts/seamless-jobserver`, installed by
/// `scripts/install-seamless-jobserver.sh`) runs this.
///
/// The contract, as `jobserver.py` implements it: the launcher writes the status file first
/// (`{"parameters": {"buffer": [...], "database": [...]}, "pid": ..., ...}`); the server reads
/// the buffer and database URLs from `parameters`, rewrites the file with `"status": "running"`
/// and `"port"` once it listens (or `"status": "failed"`), and stops after `--timeout` seconds
/// without requests.
struct SeamlessJobserverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seamless-jobserver",
        abstract: "Run the broker in place of Seamless's Python seamless-jobserver (for remote-http-launcher).",
        discussion: """
            Takes the Python jobserver's options. Buffers and results go to the hashserver and seamless-database named in the status file's "parameters" (their "remote_url", else "url"); without parameters, to the config's store. The journal and work directories go under --state-dir (default: next to the status file, <status file>.shunter/). Handlers come from --config (default: $SHUNTER_CONFIG, else as for `shunter serve`).
            """
    )

    @Option(help: "Listen on this port (default 5533).") var port: Int?
    @Option(parsing: .upToNextOption, help: "Listen on a random free port in START END (inclusive).")
    var portRange: [Int] = []
    @Option(help: "The interface to listen on (127.0.0.1 by default; another needs a token, docs/security.md).")
    var host = "127.0.0.1"
    @Option(help: "Accepted for compatibility: how many jobs run at once is set by each handler's limits.max_jobs.")
    var workers: Int = 1
    @Option(help: "The launcher's JSON status file: read for \"parameters\", rewritten with the port once running.")
    var statusFile: String?
    @Option(help: "Stop after this many seconds without requests.") var timeout: Double?
    @Option(help: "The broker config file (default: $SHUNTER_CONFIG, else as for `shunter serve`).") var config: String?
    @Option(help: "Directory for the job journal and work directories.") var stateDir: String?

    func validate() throws {
        if port != nil && !portRange.isEmpty { throw ValidationError("--port and --port-range exclude each other") }
        if !portRange.isEmpty {
            guard portRange.count == 2 else { throw ValidationError("--port-range takes two numbers: START END") }
            guard (0...65535).contains(portRange[0]), (0...65535).contains(portRange[1]) else {
                throw ValidationError("--port-range values must be between 0 and 65535")
            }
            guard portRange[0] <= portRange[1] else {
                throw ValidationError("--port-range START must be less than or equal to END")
            }
        }
        if let timeout, !(timeout > 0) || CheckedQuantity.duration(seconds: timeout) == nil {
            throw ValidationError(
                "--timeout must be a positive number of seconds, at most \(CheckedQuantity.maximumDurationSeconds) "
                    + "(\(CheckedQuantity.maximumDurationText)), got \(timeout)")
        }
        if workers <= 0 { throw ValidationError("--workers must be a positive integer") }
    }

    func run() async throws {
        var status: LauncherStatusFile?
        if let statusFile { status = try await LauncherStatusFile.load(path: statusFile) }
        do {
            try await serve(status: status)
        } catch {
            if let status, await !status.runningWritten { await status.writeFailed() }
            throw error
        }
    }

    private func serve(status: LauncherStatusFile?) async throws {
        let loaded = BrokerConfigLoader.resolve(
            explicitPath: config ?? ProcessEnvironment.get("SHUNTER_CONFIG"),
            currentDirectory: FileManager.default.currentDirectoryPath)
        guard var brokerConfig = loaded.config else {
            for error in loaded.errors { printError("\(error)") }
            throw ShunterExit.invalidConfiguration
        }
        let selectedPort: Int
        if portRange.count == 2 {
            guard let free = FreePortProbe.randomFreePort(host: host, in: portRange[0]...portRange[1]) else {
                printError(
                    "shunter seamless-jobserver: no free port available in range \(portRange[0])-\(portRange[1])")
                throw ShunterExit.invalidConfiguration
            }
            selectedPort = free
        } else {
            selectedPort = port ?? 5533
        }
        brokerConfig.listen = ListenAddress(host: host, port: selectedPort)
        let parameters = status?.parameters ?? LauncherParameters(json: [:])
        if let url = parameters.bufferURL { brokerConfig.store.buffers = .url(url) }
        if let url = parameters.databaseURL { brokerConfig.store.results = .url(url) }
        if let stateDirectory = stateDir ?? status.map({ ($0.path as NSString).deletingPathExtension + ".shunter" }) {
            let directory = ConfigPaths.resolve(stateDirectory, against: FileManager.default.currentDirectoryPath)
            brokerConfig.journal = directory + "/journal.sqlite"
            brokerConfig.workdir = directory + "/work"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }

        let logger = BrokerStartup.logger(for: brokerConfig)
        for warning in parameters.warnings { logger.warning("\(warning)") }
        let access = try BrokerStartup.httpAccess(
            config: brokerConfig, logger: logger, command: "shunter seamless-jobserver")
        let services = try await BrokerStartup.openServices(
            config: brokerConfig, logger: logger, command: "shunter seamless-jobserver")

        let activity = ActivityTracker()
        let app = Application(
            responder: ActivityTrackingResponder(
                ShunterApplication.router(services: services, access: access, logger: logger).buildResponder(),
                tracker: activity),
            server: ShunterApplication.server(limits: brokerConfig.http, tls: access.tls, logger: logger),
            configuration: .init(
                address: .hostname(host, port: selectedPort), serverName: "Shunter/\(ShunterVersion.current)"),
            onServerRunning: { channel in
                let boundPort = channel.localAddress?.port ?? selectedPort
                await status?.writeRunning(port: boundPort)
                // What the Python jobserver prints, for anyone reading the launcher's log.
                FileHandle.standardOutput.write(
                    Data(
                        "Welcome to the Seamless jobserver on \(host):\(boundPort) (Shunter \(ShunterVersion.current))\n"
                            .utf8))
            },
            logger: logger)
        logger.notice(
            "Shunter \(ShunterVersion.current) as seamless-jobserver",
            metadata: [
                "address": "\(brokerConfig.listen)", "buffers": "\(brokerConfig.store.buffers)",
                "results": "\(brokerConfig.store.results)", "journal": "\(brokerConfig.journal)",
                "handlers": "\(services.handlers.map(\.name).joined(separator: ","))",
                "timeout": "\(timeout.map { "\($0)s" } ?? "none")",
            ])

        // Checked in `validate`.
        let idleExit = timeout.flatMap { CheckedQuantity.duration(seconds: $0) }.map {
            IdleExitService(activity: activity, limit: $0, logger: logger)
        }
        try await BrokerServiceGroup.make(services: services, server: app, idleExit: idleExit, logger: logger).run()
    }
}

/// The launcher's status file: read once at start, rewritten when the server runs or fails.
actor LauncherStatusFile {
    nonisolated let path: String
    nonisolated let parameters: LauncherParameters
    /// The file's content as the launcher wrote it; every key is kept when it is rewritten.
    private let contents: [String: JSONAny]
    private(set) var runningWritten = false

    private init(path: String, contents: [String: JSONAny], parameters: LauncherParameters) {
        self.path = path
        self.contents = contents
        self.parameters = parameters
    }

    /// Waits up to 20 s for the file, as the Python jobserver does (the launcher may write it
    /// just after starting the server).
    static func load(path: String) async throws -> LauncherStatusFile {
        let deadline = ContinuousClock.now + .seconds(20)
        var data = FileManager.default.contents(atPath: path)
        while data == nil && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            data = FileManager.default.contents(atPath: path)
        }
        guard let data else {
            throw ValidationError("Status file '\(path)' not found after 20 seconds")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ValidationError("Status file '\(path)' must contain a JSON object")
        }
        return LauncherStatusFile(
            path: path, contents: object.mapValues(JSONAny.init),
            parameters: LauncherParameters(json: object["parameters"] as? [String: Any] ?? [:]))
    }

    func writeRunning(port: Int) {
        write(["port": port, "status": "running"])
        runningWritten = true
    }

    func writeFailed() {
        write(["status": "failed"])
    }

    private func write(_ changes: [String: Any]) {
        var payload = contents.mapValues(\.value)
        for (key, value) in changes { payload[key] = value }
        guard let data = try? JSONSerialization.data(withJSONObject: payload, options: [.withoutEscapingSlashes]) else {
            return
        }
        let temporary = path + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: data + Data("\n".utf8)) else {
            printError("shunter seamless-jobserver: cannot write \(temporary)")
            return
        }
        if rename(temporary, path) != 0 {
            printError("shunter seamless-jobserver: cannot replace \(path): \(String(cString: strerror(errno)))")
        }
    }
}

/// A JSON value from `JSONSerialization`, carried as Sendable (it is only ever read).
struct JSONAny: @unchecked Sendable {
    let value: Any
}

/// What the launcher passes in the status file's `parameters` (Seamless's `set_remote_clients`
/// shape): `{"buffer": [{"url", "remote_url", "readonly", ...}], "database": [...], "record": bool}`.
/// Shunter uses one hashserver and one database: the first writable entry of each, through
/// its `remote_url` (the address as seen from the server's side), else its `url`.
struct LauncherParameters: Sendable {
    var bufferURL: String?
    var databaseURL: String?
    var warnings: [String] = []

    init(json: [String: Any]) {
        bufferURL = pick("buffer", from: json)
        databaseURL = pick("database", from: json)
        if json["record"] as? Bool == true {
            warnings.append(
                "the launcher asks for record mode, which Shunter does not implement: record requests are answered 409")
        }
    }

    private mutating func pick(_ key: String, from json: [String: Any]) -> String? {
        let entries = json[key] as? [[String: Any]] ?? []
        let usable = entries.filter { ($0["remote_url"] ?? $0["url"]) is String }
        guard let chosen = usable.first(where: { $0["readonly"] as? Bool != true }) ?? usable.first else { return nil }
        if usable.count > 1 {
            warnings.append(
                "parameters list \(usable.count) \(key) servers; Shunter uses one: \(chosen["remote_url"] ?? chosen["url"]!)"
            )
        }
        if chosen["readonly"] as? Bool == true {
            warnings.append("the \(key) server is marked read-only, but Shunter stores results in it")
        }
        return (chosen["remote_url"] ?? chosen["url"]) as? String
    }
}

/// Picks a port the way the Python jobserver does: random ports of the range until one binds.
enum FreePortProbe {
    static func randomFreePort(host: String, in range: ClosedRange<Int>) -> Int? {
        for port in range.shuffled() where canBind(host: host, port: port) {
            return port
        }
        return nil
    }

    static func canBind(host: String, port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var reuse: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        if inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &address.sin_addr) != 1 {
            address.sin_addr.s_addr = INADDR_ANY
        }
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}
