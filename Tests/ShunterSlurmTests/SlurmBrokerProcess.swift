import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ShunterCore
import ShunterTestSupport
import Testing

/// The real `shunter serve` with one handler, bash on Slurm, in a temporary directory (its
/// work directory is local: on one node that is "shared"). Tests kill it with -9 and restart it
/// (the same pattern as Tests/ShunterServerTests/BrokerProcess.swift).
final class SlurmBrokerProcess: @unchecked Sendable {
    let root: String
    let port: Int
    private var process: Process?

    var url: String { "http://127.0.0.1:\(port)" }
    var log: String { (try? String(contentsOfFile: root + "/serve.log", encoding: .utf8)) ?? "" }

    init(slurmYAML: String, maxJobs: Int = 1000) throws {
        root = NSTemporaryDirectory() + "shunter-slurm-broker-\(UUID().uuidString.prefix(8))"
        port = try FreePort.find()
        try FileManager.default.createDirectory(atPath: root + "/handlers", withIntermediateDirectories: true)
        try """
            listen: 127.0.0.1:\(port)
            store: {buffers: var/buffers, results: var/results.sqlite}
            journal: var/journal.sqlite
            workdir: var/work
            handlers: handlers
            log_level: notice
            """.write(toFile: root + "/shunter.yaml", atomically: true, encoding: .utf8)
        try """
            name: bash-slurm
            plugin: bash
            backend: slurm
            match: {language: bash}
            limits: {max_jobs: \(maxJobs), timeout: 5m}
            slurm: \(slurmYAML)
            """.write(toFile: root + "/handlers/40-slurm.yaml", atomically: true, encoding: .utf8)
    }

    static var executable: String {
        get throws {
            let packageRoot = PythonServer.packageRoot().path
            for candidate in [".build/debug/shunter", ".build/release/shunter"] where FileManager.default.isExecutableFile(atPath: packageRoot + "/" + candidate) {
                return packageRoot + "/" + candidate
            }
            throw ClusterError("the shunter executable is not built under \(packageRoot)/.build; run `swift build --build-tests` first (scripts/test.sh does)")
        }
    }

    func start() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.executable)
        process.arguments = ["serve", "--config", root + "/shunter.yaml"]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        let logPath = root + "/serve.log"
        if !FileManager.default.fileExists(atPath: logPath) { FileManager.default.createFile(atPath: logPath, contents: nil) }
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
        throw ClusterError("shunter serve did not come up on port \(port):\n\(log)")
    }

    /// `kill -9`: no cleanup; whatever was journaled is all the next start knows.
    func killHard() {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit {
        killHard()
        try? FileManager.default.removeItem(atPath: root)
    }

    struct Reply {
        var status: Int
        var body: [UInt8]
        var json: JSONValue { get throws { try JSONParser.parse(body) } }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    func send(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, timeout: Duration = .seconds(120)) async throws -> Reply {
        var request = HTTPClientRequest(url: url + path)
        request.method = method
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(timeout.components.seconds))
        let collected = try await response.body.collect(upTo: 1 << 26)
        return Reply(status: Int(response.status.code), body: Array(collected.readableBytesView))
    }

    /// Uploads the code as a text buffer and returns a `/jobs` body for a bash transformation
    /// with a `bytes` result.
    func bashJob(_ code: String) async throws -> [UInt8] {
        let buffer = try CelltypeCodec.serialize(.string(code), as: .text)
        let checksum = HashAlgorithm.sha256.checksum(of: buffer)
        let reply = try await send(.PUT, "/" + checksum.hex, body: buffer)
        guard (200..<300).contains(reply.status) else { throw ClusterError("PUT buffer: \(reply.status) \(reply.text)") }
        let dict: JSONValue = .object([
            "__language__": .string("bash"), "__output__": .array([.string("result"), .string("bytes"), .null]),
            "code": .array([.string("text"), .null, .string(checksum.hex)]),
        ])
        return CanonicalJSON.encodeCompact(.object(["transformation_dict": dict]))
    }

    /// Every journal record of a transformation.
    func records(tf: String) async throws -> [JSONValue] {
        let reply = try await send(.GET, "/jobs?tf=\(tf)")
        guard reply.status == 200, let list = try reply.json.arrayValue else { throw ClusterError("GET /jobs?tf=\(tf): \(reply.status) \(reply.text)") }
        return list
    }
}
