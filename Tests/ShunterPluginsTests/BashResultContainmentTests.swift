import Foundation
import ShunterBackends
import ShunterCore
import ShunterPlugins
import ShunterStore
import Testing

/// A job's `RESULT` is read on the host: a link out of the job's work directory must never be
/// followed (a container job could read any file of the host), one that stays inside is read
/// as its target, as Seamless reads it.
@Suite("RESULT stays inside the work directory")
struct BashResultContainmentTests {
    /// A file outside every work directory, with content no job could produce by itself.
    struct Secret {
        let directory: TemporaryDirectory
        let path: String
        let content: [UInt8]

        init() throws {
            directory = try TemporaryDirectory()
            path = directory.path + "/secret"
            content = Array("host secret \(UUID().uuidString)\n".utf8)
            #expect(FileManager.default.createFile(atPath: path, contents: Data(content)))
        }
    }

    /// Runs the job and returns its failure; records an issue when it succeeds.
    func failure(of code: String, output: String, harness: BashJobHarness) async throws -> JobFailure? {
        let job = try await harness.job(code: code, pins: [], output: output)
        do {
            let (result, _) = try await harness.run(job)
            Issue.record(
                "the job succeeded with \(result.count) bytes: \(String(decoding: result.prefix(200), as: UTF8.self))")
            return nil
        } catch let failure as JobFailure {
            return failure
        }
    }

    @Test("RESULT as a link to a file outside fails the job, naming the link; the file's content is never stored")
    func resultLinkOutside() async throws {
        let secret = try Secret()
        defer { secret.directory.cleanUp() }
        let store = MemoryBufferStore()
        let harness = try BashJobHarness(buffers: store)
        defer { harness.cleanUp() }
        for output in ["bytes", "text", "mixed"] {
            let refused = try await failure(of: "ln -s \(secret.path) RESULT", output: output, harness: harness)
            #expect(refused?.kind == .badResult)
            #expect(
                refused?.message.contains(
                    "RESULT is a symbolic link to '\(secret.path)', outside the job's work directory") == true,
                "\(refused?.message ?? "")")
            #expect(refused?.message.contains("host secret") == false)
        }
        let secretChecksum = HashAlgorithm.sha256.checksum(of: secret.content)
        #expect(try await store.has([secretChecksum]) == [false])
    }

    @Test("a link that leaves through .. and one hidden behind a link to an inside directory are refused too")
    func indirectLinksOutside() async throws {
        let secret = try Secret()
        defer { secret.directory.cleanUp() }
        let harness = try BashJobHarness()
        defer { harness.cleanUp() }
        let relative = try await failure(
            of: "ln -s ../stdout RESULT", output: "bytes", harness: harness)
        #expect(relative?.message.contains("outside the job's work directory") == true, "\(relative?.message ?? "")")
        let chained = try await failure(
            of: "mkdir d; ln -s \(secret.path) d/s; ln -s d/s RESULT", output: "bytes", harness: harness)
        #expect(chained?.message.contains("outside the job's work directory") == true, "\(chained?.message ?? "")")
    }

    @Test("a RESULT directory holding a link to a file outside fails the job; the file's content is never stored")
    func directoryMemberLinkOutside() async throws {
        let secret = try Secret()
        defer { secret.directory.cleanUp() }
        let store = MemoryBufferStore()
        let harness = try BashJobHarness(buffers: store)
        defer { harness.cleanUp() }
        let refused = try await failure(
            of: "mkdir -p RESULT/sub; echo 1 > RESULT/a; ln -s \(secret.path) RESULT/sub/leak", output: "plain",
            harness: harness)
        #expect(refused?.kind == .badResult)
        #expect(
            refused?.message.contains("RESULT/sub/leak is a symbolic link to '\(secret.path)', outside") == true,
            "\(refused?.message ?? "")")
        #expect(refused?.message.contains("host secret") == false)
        let leaked = try CelltypeCodec.serialize(
            .object(["a": .int(1), "sub/leak": .string(String(decoding: secret.content, as: UTF8.self))]), as: .plain)
        #expect(try await store.has([HashAlgorithm.sha256.checksum(of: leaked)]) == [false])
    }

    @Test(
        "links that stay inside the work directory are read as their targets (Seamless's rule); linked directories are skipped as os.walk does"
    )
    func linksInside() async throws {
        let harness = try BashJobHarness()
        defer { harness.cleanUp() }
        let file = try await harness.job(code: "echo 42 > data; ln -s data RESULT", pins: [], output: "int")
        #expect(try await harness.run(file).result == Array("42\n".utf8))
        let absolute = try await harness.job(code: "echo 7 > data; ln -s \"$PWD/data\" RESULT", pins: [], output: "int")
        #expect(try await harness.run(absolute).result == Array("7\n".utf8))
        let directory = try await harness.job(
            code:
                "mkdir -p RESULT other; echo 1 > RESULT/a; echo 2 > other/b; ln -s ../other/b RESULT/b; ln -s ../other RESULT/dir",
            pins: [], output: "plain")
        let expected = try CelltypeCodec.serialize(.object(["a": .int(1), "b": .int(2)]), as: .plain)
        #expect(try await harness.run(directory).result == expected)
    }

    @Test("a RESULT that is a FIFO is refused at once instead of hanging the collection")
    func fifoResult() async throws {
        let harness = try BashJobHarness()
        defer { harness.cleanUp() }
        let fifo = try await failure(of: "mkfifo RESULT", output: "bytes", harness: harness)
        #expect(fifo?.message.contains("neither a regular file nor a directory") == true, "\(fifo?.message ?? "")")
        let dangling = try await failure(of: "ln -s nothing RESULT", output: "bytes", harness: harness)
        #expect(dangling?.kind == .missingResult)
    }
}
