import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A real Python reference server (hashserver or seamless-database) from the Seamless venv,
/// started on a free loopback port for one test. The port comes from the server's own
/// `--status-file` report, so there is no race for a port picked in advance.
package final class PythonServer: Sendable {
    package let url: String
    private let process: Process

    package static func packageRoot(file: String = #filePath) -> URL {
        URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    package static func venvBinary(_ name: String) throws -> String {
        let path = packageRoot().appendingPathComponent(".venv-seamless/bin/\(name)").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw SetupError(
                message:
                    "\(path) is missing: the Seamless reference servers are needed; run: bash scripts/setup-seamless-venv.sh"
            )
        }
        return path
    }

    package struct SetupError: Error, CustomStringConvertible {
        package var message: String
        package var description: String { message }
    }

    /// `hashserver DIR --writable` (prefix layout).
    package static func hashserver(directory: String, writable: Bool = true, extra: [String] = []) async throws
        -> PythonServer
    {
        try await start(
            binary: venvBinary("hashserver"),
            arguments: [directory] + (writable ? ["--writable"] : []) + extra, scratch: directory + ".status")
    }

    /// `seamless-database FILE --writable`.
    package static func database(file: String, writable: Bool = true) async throws -> PythonServer {
        try await start(
            binary: venvBinary("seamless-database"),
            arguments: [file] + (writable ? ["--writable"] : []), scratch: file + ".status")
    }

    private static func start(binary: String, arguments: [String], scratch statusFile: String) async throws
        -> PythonServer
    {
        try Data("{}".utf8).write(to: URL(fileURLWithPath: statusFile))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments =
            arguments + [
                "--host", "127.0.0.1", "--port-range", "20000", "60000", "--status-file", statusFile, "--timeout",
                "120",
            ]
        let log = FileHandle(forWritingAtPath: "/dev/null")
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let data = FileManager.default.contents(atPath: statusFile),
                let status = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                status["status"] as? String == "running", let port = status["port"] as? Int
            {
                let server = PythonServer(url: "http://127.0.0.1:\(port)", process: process)
                if await server.isHealthy() { return server }
            }
            guard process.isRunning else {
                throw SetupError(
                    message: "\(binary) \(arguments) exited with \(process.terminationStatus) before it was ready")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        process.terminate()
        throw SetupError(message: "\(binary) did not report running within 30 s")
    }

    private init(url: String, process: Process) {
        self.url = url
        self.process = process
    }

    package func isHealthy() async -> Bool {
        guard let (_, status) = try? await request("GET", "/healthcheck") else { return false }
        return status == 200
    }

    /// One HTTP request; answers the body and the status code.
    package func request(_ method: String, _ path: String, body: Data? = nil, json: Bool = false) async throws -> (
        Data, Int
    ) {
        var request = HTTPClientRequest(url: url + path)
        request.method = .RAW(value: method)
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        if json { request.headers.add(name: "Content-Type", value: "application/json") }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 1 << 30)
        return (Data(bytes.readableBytesView), Int(response.status.code))
    }

    /// SIGTERM, then SIGKILL after a second: uvicorn's graceful shutdown otherwise waits for
    /// the client's idle keep-alive connections.
    package func stop() {
        guard process.isRunning else { return }
        process.terminate()
        for _ in 0..<50 where process.isRunning { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { stop() }
}
