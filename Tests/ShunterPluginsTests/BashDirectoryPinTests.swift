import Foundation
import Logging
import ShunterCore
import ShunterHandlers
import ShunterPlugins
import ShunterStore
import Testing

@Suite("Bash directory pins")
struct BashDirectoryPinTests {
    /// A bash job with one directory pin `d` (as the client sends a `deepfolder` argument).
    func job(
        _ harness: BashJobHarness, code: String, files: [String: [UInt8]], celltype: String = "deepfolder",
        pin: String = "d", writtenAs: String? = nil
    ) async throws -> JobContext {
        var structure: [String: JSONValue] = [:]
        for (member, content) in files {
            structure[member] = .string(try await harness.buffers.put(content, expected: nil).hex)
        }
        let deep = try await harness.buffers.put(
            try CelltypeCodec.serialize(.object(structure), as: .plain), expected: nil)
        let codeChecksum = try await harness.buffers.put(
            try CelltypeCodec.serialize(.string(code), as: .text), expected: nil)
        var dict: [String: JSONValue] = [
            "__language__": .string("bash"),
            "__output__": .array([.string("result"), .string("text"), .null]),
            "__format__": .object([
                writtenAs ?? pin: .object([
                    "filesystem": .object(["mode": .string("directory")]), "celltype": .string(celltype),
                ])
            ]),
            "code": .array([.string("text"), .null, .string(codeChecksum.hex)]),
            pin: .array([.string(celltype), .null, .string(deep.hex)]),
        ]
        if let writtenAs { dict["__as__"] = .object([pin: .string(writtenAs)]) }
        return JobContext(
            jobID: UUID().uuidString, transformation: try Transformation.parse(dict: dict), environment: nil,
            handler: HandlerConfig(
                name: "bash-test", plugin: "bash", backend: "local", limits: HandlerLimits(maxJobs: 1)),
            buffers: harness.buffers, workRoot: harness.root.path, logger: Logger(label: "test"))
    }

    @Test("a deepfolder pin becomes a directory named like the pin, one file per entry, and $d names it")
    func deepfolder() async throws {
        let harness = try BashJobHarness()
        defer { harness.cleanUp() }
        let job = try await job(
            harness, code: "find d -type f | sort > RESULT; cat d/x.txt d/sub/y >> RESULT; echo $d >> RESULT",
            files: ["x.txt": Array("hello\n".utf8), "sub/y": Array("wörld\n".utf8)])
        let (result, _) = try await harness.run(job)
        #expect(String(decoding: result, as: UTF8.self) == "d/sub/y\nd/x.txt\nhello\nwörld\nd\n")
    }

    @Test("an entry that would leave the pin's directory is refused")
    func escapingEntry() async throws {
        let harness = try BashJobHarness()
        defer { harness.cleanUp() }
        let job = try await job(
            harness, code: "echo > RESULT", files: ["../escape": Array("x".utf8)], celltype: "folder")
        await #expect(throws: JobFailure.self) { try await harness.plugin.prepare(job) }
    }

    @Test(
        "a directory pin, or its __as__ name, that would leave the work directory is refused before anything is written"
    )
    func escapingPinName() async throws {
        let harness = try BashJobHarness()
        defer { harness.cleanUp() }
        // The work directory is <root>/<job>/work: three levels up is the harness root's parent.
        let escape = "escape-" + UUID().uuidString
        let outside = (harness.root.path as NSString).deletingLastPathComponent + "/" + escape
        defer { try? FileManager.default.removeItem(atPath: outside) }
        for (pin, writtenAs) in [("../../../\(escape)", nil), ("d", "../../../\(escape)"), ("d", "/tmp/\(escape)")]
            as [(String, String?)]
        {
            let job = try await job(
                harness, code: "echo > RESULT", files: ["x": Array("x".utf8)], pin: pin, writtenAs: writtenAs)
            do {
                _ = try await harness.plugin.prepare(job)
                Issue.record("pin \(pin) as \(writtenAs ?? pin) must be refused")
            } catch let failure as JobFailure {
                #expect(failure.kind == .badInput)
                #expect(failure.message.contains("is not allowed"), "\(failure.message)")
            }
            #expect(!FileManager.default.fileExists(atPath: outside))
            #expect(!FileManager.default.fileExists(atPath: "/tmp/\(escape)"))
            // A refused job leaves no directory behind.
            #expect(try FileManager.default.contentsOfDirectory(atPath: harness.root.path).isEmpty)
        }
    }

    @Test("a member that is no file name inside the pin's directory is refused")
    func oddMembers() async throws {
        let harness = try BashJobHarness()
        defer { harness.cleanUp() }
        for member in ["./x", "a//b", "a/", ""] {
            let job = try await job(
                harness, code: "echo > RESULT", files: [member: Array("x".utf8)], celltype: "folder")
            await #expect(throws: JobFailure.self) { try await harness.plugin.prepare(job) }
        }
    }
}
