import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ShunterCore

/// The real `shunter serve`, from the package's own build, on a free loopback port in a
/// temporary directory with its own config, store and journal. Tests start it, kill it with -9
/// and restart it; its standard error accumulates in `serve.log` across restarts.
package final class ServeProcess: @unchecked Sendable {
    package let root: String
    package let port: Int
    private var process: Process?

    package var url: String { "http://127.0.0.1:\(port)" }
    /// The running broker's pid; nil before the first start.
    package var pid: Int32? { process?.processIdentifier }
    /// A command the broker is started through, which execs it (`setpriv --reuid=...`).
    package var launcher: [String] = []
    /// Variables added to the broker's environment.
    package var extraEnvironment: [String: String] = [:]
    /// Everything the broker logged, all starts included.
    package var log: String { (try? String(contentsOfFile: root + "/serve.log", encoding: .utf8)) ?? "" }

    /// `config` is the broker config without `listen` (which this sets); `handlers` maps file
    /// names under `handlers/` to their YAML.
    package init(directoryPrefix: String, config: String, handlers: [String: String]) throws {
        root = NSTemporaryDirectory() + "\(directoryPrefix)-\(UUID().uuidString)"
        port = try FreePort.find()
        try FileManager.default.createDirectory(atPath: root + "/handlers", withIntermediateDirectories: true)
        try "listen: 127.0.0.1:\(port)\n\(config)".write(
            toFile: root + "/shunter.yaml", atomically: true, encoding: .utf8)
        for (name, yaml) in handlers {
            try yaml.write(toFile: root + "/handlers/" + name, atomically: true, encoding: .utf8)
        }
    }

    /// `.build/debug/shunter` (else release) of this package.
    package static var executable: String {
        get throws {
            let packageRoot = PythonServer.packageRoot().path
            for candidate in [".build/debug/shunter", ".build/release/shunter"] {
                let path = packageRoot + "/" + candidate
                if FileManager.default.isExecutableFile(atPath: path) { return path }
            }
            throw ServeProcessError(
                "the shunter executable is not built under \(packageRoot)/.build; run `swift build --build-tests` first (scripts/test.sh does)"
            )
        }
    }

    /// Starts the broker and returns once `/healthcheck` answers.
    package func start() async throws {
        let process = Process()
        let command = launcher + [try Self.executable, "serve", "--config", root + "/shunter.yaml"]
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        if !extraEnvironment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(extraEnvironment) { $1 }
        }
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        let logPath = root + "/serve.log"
        if !FileManager.default.fileExists(atPath: logPath) {
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        try handle.seekToEnd()
        process.standardError = handle
        try process.run()
        self.process = process
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if let reply = try? await send(.GET, "/healthcheck"), reply.status == 200 { return }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ServeProcessError("shunter serve did not come up on port \(port):\n\(log)")
    }

    /// `kill -9`: no cleanup; whatever was committed to the journal is all the next start knows.
    package func killHard() {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM, and waits for the broker to exit.
    package func stop() {
        guard let process, process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    deinit {
        killHard()
        try? FileManager.default.removeItem(atPath: root)
    }

    package struct Reply: Sendable {
        package var status: Int
        package var body: [UInt8]
        package var text: String { String(decoding: body, as: UTF8.self) }
        package var json: JSONValue { get throws { try JSONParser.parse(body) } }
    }

    package func send(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, timeout: Duration = .seconds(120))
        async throws -> Reply
    {
        var request = HTTPClientRequest(url: url + path)
        request.method = method
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(timeout.components.seconds))
        let collected = try await response.body.collect(upTo: 1 << 30)
        return Reply(status: Int(response.status.code), body: Array(collected.readableBytesView))
    }

    package func get(_ path: String, body: [UInt8]? = nil) async throws -> Reply {
        try await send(.GET, path, body: body)
    }
    package func post(_ path: String, body: [UInt8]? = nil) async throws -> Reply {
        try await send(.POST, path, body: body)
    }
    package func put(_ path: String, body: [UInt8]) async throws -> Reply { try await send(.PUT, path, body: body) }

    /// Uploads a buffer and returns its checksum.
    package func upload(_ buffer: [UInt8]) async throws -> Checksum {
        let checksum = HashAlgorithm.sha256.checksum(of: buffer)
        let reply = try await put("/" + checksum.hex, body: buffer)
        guard (200..<300).contains(reply.status) else {
            throw ServeProcessError("PUT buffer: \(reply.status) \(reply.text)")
        }
        return checksum
    }
}

package struct ServeProcessError: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}
