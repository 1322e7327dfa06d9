import Foundation
import Logging
import ShunterBackends
import ShunterCore
import ShunterHandlers
import ShunterPlugins
import ShunterStore

func bytes(hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var index = hex.startIndex
    while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 2)
        out.append(UInt8(hex[index..<next], radix: 16)!)
        index = next
    }
    return out
}

/// A fresh directory under the system temp dir, removed by `cleanUp`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "shunter-plugins-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: path) }
}

/// Runs bash transformations the way the broker will: BashPlugin.prepare, LocalBackend.run,
/// BashPlugin.collect, with real processes and a real buffer store.
struct BashJobHarness {
    let root: TemporaryDirectory
    let buffers: any BufferStore
    let plugin: BashPlugin
    let backend: LocalBackend

    init(buffers: (any BufferStore)? = nil, killGrace: Duration = .milliseconds(500)) throws {
        root = try TemporaryDirectory()
        self.buffers = buffers ?? MemoryBufferStore()
        plugin = BashPlugin(inheritedEnvironment: [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        ])
        backend = LocalBackend(killGrace: killGrace)
    }

    /// Stores the pin buffers and the code, and builds the job as a client would send it.
    func job(
        code: String, pins: [(name: String, celltype: String, buffer: [UInt8])], output: String,
        renames: [String: String] = [:], timeout: Duration? = nil, jobID: String = UUID().uuidString
    ) async throws -> JobContext {
        let codeBuffer = try CelltypeCodec.serialize(.string(code), as: .text)
        let codeChecksum = try await buffers.put(codeBuffer, expected: nil)
        var dict: [String: JSONValue] = [
            "__language__": .string("bash"),
            "__output__": .array([.string("result"), .string(output), .null]),
            "code": .array([.string("text"), .null, .string(codeChecksum.hex)]),
        ]
        for pin in pins {
            let checksum = try await buffers.put(pin.buffer, expected: nil)
            dict[pin.name] = .array([.string(pin.celltype), .null, .string(checksum.hex)])
        }
        if !renames.isEmpty {
            dict["__as__"] = .object(renames.mapValues { .string($0) })
        }
        let transformation = try Transformation.parse(dict: dict)
        let handler = HandlerConfig(
            name: "bash-test", plugin: "bash", backend: "local", limits: HandlerLimits(maxJobs: 8, timeout: timeout))
        return JobContext(
            jobID: jobID, transformation: transformation, environment: nil, handler: handler,
            buffers: buffers, workRoot: root.path, logger: Logger(label: "test"))
    }

    /// prepare → run → collect. Returns the result buffer or throws the JobFailure.
    func run(_ job: JobContext) async throws -> (result: [UInt8], prepared: PreparedJob) {
        let prepared = try await plugin.prepare(job)
        let outcome = try await backend.run(prepared.execution, events: ExecutionEvents())
        let result = try await plugin.collect(job, prepared: prepared, outcome: outcome)
        return (result, prepared)
    }

    func cleanUp() { root.cleanUp() }
}
