import ShunterCore
import ShunterPlugins
import Testing

/// Each vector was run through the real Seamless (Vectors/generate_bash_vectors.py): the same
/// pins, code and output celltype must give the same result checksum, or the same error text
/// byte for byte.
@Suite("Bash transformations agree with Seamless")
struct SeamlessBashVectorTests {
    @Test(arguments: bashVectors.map(\.name))
    func vector(_ name: String) async throws {
        let vector = try #require(bashVectors.first { $0.name == name })
        let harness = try BashJobHarness()
        defer { harness.cleanUp() }
        let job = try await harness.job(
            code: vector.code, pins: vector.pins.map { ($0.name, $0.celltype, $0.buffer) },
            output: vector.output, renames: vector.renames)
        switch vector.expected {
        case .result(let checksum, let buffer):
            let (result, _) = try await harness.run(job)
            #expect(String(decoding: result, as: UTF8.self) == String(decoding: buffer, as: UTF8.self))
            #expect(HashAlgorithm.sha256.checksum(of: result).hex == checksum)
        case .error(let text):
            do {
                let (result, _) = try await harness.run(job)
                Issue.record("expected Seamless's error, got a result: \(String(decoding: result, as: UTF8.self))")
            } catch let failure as JobFailure {
                #expect(failure.message == text)
            }
        }
    }
}
