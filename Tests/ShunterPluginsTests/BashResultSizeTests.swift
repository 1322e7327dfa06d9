import Foundation
import ShunterBackends
import ShunterCore
import ShunterPlugins
import ShunterStore
import Testing

/// `max_result_size`: a result larger than the broker stores fails the job clearly, before it is
/// read whole; a `bytes` result goes to the store from its file.
@Suite("RESULT size limit and streaming")
struct BashResultSizeTests {
    func store(_ code: String, output: String, limit: Int, harness: BashJobHarness) async throws -> Checksum {
        var job = try await harness.job(code: code, pins: [], output: output)
        job.maxResultBytes = limit
        let prepared = try await harness.plugin.prepare(job)
        let outcome = try await harness.backend.run(prepared.execution, events: ExecutionEvents())
        return try await harness.plugin.storeResult(job, prepared: prepared, outcome: outcome)
    }

    @Test(
        "a RESULT over max_result_size fails the job with its size and the setting named, for bytes, text and directories"
    )
    func overTheLimit() async throws {
        let harness = try BashJobHarness()
        defer { harness.cleanUp() }
        for (code, output, shown) in [
            ("head -c 5000 /dev/zero > RESULT", "bytes", "RESULT is too large (5000 bytes)"),
            ("seq 1 2000 > RESULT", "text", "RESULT is too large (8893 bytes)"),
            ("mkdir RESULT; seq 1 600 > RESULT/a; seq 1 600 > RESULT/b", "plain", "RESULT (a directory) is too large"),
        ] {
            do {
                let checksum = try await store(code, output: output, limit: 4096, harness: harness)
                Issue.record("\(output): stored \(checksum) although larger than the limit")
            } catch let failure as JobFailure {
                #expect(failure.kind == .badResult)
                #expect(failure.message.contains(shown), "\(failure.message)")
                #expect(
                    failure.message.contains("at most 4096 bytes (max_result_size in the broker config)"),
                    "\(failure.message)")
            }
        }
        // Under the limit, the same jobs pass.
        let small = try await store("head -c 4096 /dev/zero > RESULT", output: "bytes", limit: 4096, harness: harness)
        #expect(small == HashAlgorithm.sha256.checksum(of: [UInt8](repeating: 0, count: 4096)))
    }

    @Test("a bytes RESULT is stored from its file as it is: the checksum of the file, the file in the store")
    func bytesResultStreamed() async throws {
        let root = try TemporaryDirectory()
        defer { root.cleanUp() }
        let files = try FileBufferStore(directory: root.path + "/buffers")
        let harness = try BashJobHarness(buffers: files)
        defer { harness.cleanUp() }
        let checksum = try await store("seq 1 3000000 > RESULT", output: "bytes", limit: 1 << 30, harness: harness)
        let expected = Array((1...3_000_000).map { "\($0)\n" }.joined().utf8)
        #expect(checksum == HashAlgorithm.sha256.checksum(of: expected))
        #expect(FileManager.default.contents(atPath: files.path(for: checksum)) == Data(expected))
    }
}
