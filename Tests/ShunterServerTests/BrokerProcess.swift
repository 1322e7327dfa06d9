import Foundation
import ShunterCore
import ShunterTestSupport

/// The real `shunter` executable serving one bash handler (or the handler given), for the
/// server's process tests: `ServeProcess` with this suite's config and request helpers.
typealias BrokerProcess = ServeProcess

extension ServeProcess {
    /// `handlerYAML` is the YAML of one handler file; `maxJobs` goes into the default bash handler.
    convenience init(
        handlerYAML: String? = nil, maxJobs: Int = 4,
        storeYAML: String = "{buffers: var/buffers, results: var/results.sqlite}",
        extraConfig: String = ""
    ) throws {
        try self.init(
            directoryPrefix: "shunter-process",
            config: """
                store: \(storeYAML)
                journal: var/journal.sqlite
                workdir: var/work
                handlers: handlers
                log_level: warning
                \(extraConfig)
                """,
            handlers: [
                "10-bash.yaml": handlerYAML ?? """
                    name: bash-local
                    plugin: bash
                    backend: local
                    match: {language: bash}
                    limits: {max_jobs: \(maxJobs), timeout: 5m}
                    """
            ])
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

    /// Uploads a value serialized for its celltype and returns the pin `[celltype, null, checksum]`.
    func pin(_ celltype: Celltype, _ value: JSONValue) async throws -> JSONValue {
        let checksum = try await upload(try CelltypeCodec.serialize(value, as: celltype))
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
