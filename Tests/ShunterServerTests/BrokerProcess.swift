import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ShunterCore
import ShunterTestSupport
import Testing

/// The real `shunter` executable, serving on a free loopback port from a temporary directory
/// with its own config, store and journal. Tests start, kill (-9) and restart it.
final class BrokerProcess: @unchecked Sendable {
    let root: String
    let port: Int
    var process: Process?

    var url: String { "http://127.0.0.1:\(port)" }

    /// `handlers` is the YAML of one handler file; `maxJobs` goes into the default bash handler.
    init(handlerYAML: String? = nil, maxJobs: Int = 4, storeYAML: String = "{buffers: var/buffers, results: var/results.sqlite}",
        extraConfig: String = ""
    ) throws {
        root = NSTemporaryDirectory() + "shunter-process-\(UUID().uuidString)"
        port = try FreePort.find()
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/handlers", withIntermediateDirectories: true)
        try """
            listen: 127.0.0.1:\(port)
            store: \(storeYAML)
            journal: var/journal.sqlite
            workdir: var/work
            handlers: handlers
            log_level: warning
            \(extraConfig)
            """.write(toFile: root + "/shunter.yaml", atomically: true, encoding: .utf8)
        try (handlerYAML ?? """
            name: bash-local
            plugin: bash
            backend: local
            match: {language: bash}
            limits: {max_jobs: \(maxJobs), timeout: 5m}
            """).write(toFile: root + "/handlers/10-bash.yaml", atomically: true, encoding: .utf8)
    }

    static var executable: String {
        get throws {
            let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().path
            for candidate in [".build/debug/shunter", ".build/release/shunter"] {
                let path = packageRoot + "/" + candidate
                if FileManager.default.isExecutableFile(atPath: path) { return path }
            }
            throw TestFailure(
                "the shunter executable is not built under \(packageRoot)/.build; run `swift build --build-tests` first (scripts/test.sh does)")
        }
    }

    /// Runs `shunter ARGS` to completion and returns its exit code and output.
    static func runCLI(_ arguments: [String], in directory: String) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func start() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.executable)
        process.arguments = ["serve", "--config", root + "/shunter.yaml"]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        let log = root + "/serve.log"
        FileManager.default.createFile(atPath: log, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: log)
        try process.run()
        self.process = process
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if let reply = try? await get("/healthcheck"), reply.status == 200 { return }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        throw TestFailure("shunter serve did not come up on port \(port):\n\(output)")
    }

    /// `kill -9`: no cleanup, no journal flush beyond what was already committed.
    func killHard() {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func stop() {
        guard let process, process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    deinit {
        killHard()
        try? FileManager.default.removeItem(atPath: root)
    }

    struct Reply {
        var status: Int
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
        var json: JSONValue { get throws { try JSONParser.parse(body) } }
    }

    func get(_ path: String, body: [UInt8]? = nil) async throws -> Reply { try await send(.GET, path, body: body) }
    func post(_ path: String, body: [UInt8]? = nil) async throws -> Reply { try await send(.POST, path, body: body) }
    func put(_ path: String, body: [UInt8]) async throws -> Reply { try await send(.PUT, path, body: body) }

    func send(_ method: HTTPMethod, _ path: String, body: [UInt8]?) async throws -> Reply {
        var request = HTTPClientRequest(url: url + path)
        request.method = method
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        let collected = try await response.body.collect(upTo: 1 << 30)
        return Reply(status: Int(response.status.code), body: Array(collected.readableBytesView))
    }

    /// Uploads a value serialized for its celltype and returns the pin `[celltype, null, checksum]`.
    func pin(_ celltype: Celltype, _ value: JSONValue) async throws -> JSONValue {
        let buffer = try CelltypeCodec.serialize(value, as: celltype)
        let checksum = HashAlgorithm.sha256.checksum(of: buffer)
        let reply = try await put("/" + checksum.hex, body: buffer)
        #expect((200..<300).contains(reply.status), "PUT buffer: \(reply.status) \(reply.text)")
        return .array([.string(celltype.rawValue), .null, .string(checksum.hex)])
    }

    /// A jobserver request body for a bash transformation.
    func bashRequest(_ code: String, inputs: [String: (Celltype, JSONValue)] = [:]) async throws -> [UInt8] {
        var dict: [String: JSONValue] = [
            "__language__": .string("bash"), "__output__": .array([.string("result"), .string("bytes"), .null]),
        ]
        dict["code"] = try await pin(.text, .string(code))
        for (name, (celltype, value)) in inputs { dict[name] = try await pin(celltype, value) }
        return CanonicalJSON.encodeCompact(.object(["transformation_dict": .object(dict)]))
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

