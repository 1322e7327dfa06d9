import Foundation
import Hummingbird
import HummingbirdTesting
import ShunterCore
import ShunterServer
import ShunterStore
import ShunterTestSupport
import Testing

/// The real Seamless client (`seamless_remote.BufferClient` and `DatabaseClient` from the
/// venv) against Shunter's hashserver and seamless-database routes on one live port.
@Suite struct SeamlessClientAgainstStoreRoutesTests {
    static let script = #"""
        import asyncio, json, sys
        from seamless import Buffer, Checksum
        from seamless_remote.buffer_client import BufferClient
        from seamless_remote.database_client import DatabaseClient

        async def main(url):
            buffers = BufferClient(readonly=False)
            buffers.url = url
            buf = Buffer(b"hello from seamless")
            cs = buf.get_checksum()
            await buffers.write(cs, buf)
            got = await buffers.get(cs)
            absent = Checksum("22" * 32)
            lengths = await buffers.buffer_lengths([cs, absent])
            missing = await buffers.get(absent)
            await buffers.promise(Checksum("33" * 32))
            database = DatabaseClient(readonly=False)
            database.url = url
            tf = Checksum("44" * 32)
            before = await database.get_transformation_result(tf)
            await database.set_transformation_result(tf, cs)
            after = await database.get_transformation_result(tf)
            rev = await database.get_rev_transformations(cs)
            print(json.dumps({
                "checksum": cs.hex(), "roundtrip": got is not None and got.content == buf.content,
                "lengths": lengths, "missing": missing is None, "before": before is None,
                "after": after.hex() if after else None, "rev": [c.hex() for c in rev or []],
            }))

        asyncio.run(main(sys.argv[1]))
        """#

    static func venvPython(file: String = #filePath) throws -> String {
        let root = URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let python = root.appendingPathComponent(".venv-seamless/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw CocoaError(
                .fileNoSuchFile,
                userInfo: [
                    NSLocalizedDescriptionKey:
                        "\(python) is missing: the Seamless client is needed; run: bash scripts/setup-seamless-venv.sh"
                ])
        }
        return python
    }

    /// Runs the script to completion without blocking a concurrency thread on waitpid.
    static func runClient(url: String, directory: String) async throws -> JSONValue {
        let output = directory + "/client.out"
        let errors = directory + "/client.err"
        #expect(FileManager.default.createFile(atPath: output, contents: nil))
        #expect(FileManager.default.createFile(atPath: errors, contents: nil))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try venvPython())
        process.arguments = ["-c", script, url]
        process.standardOutput = FileHandle(forWritingAtPath: output)
        process.standardError = FileHandle(forWritingAtPath: errors)
        try process.run()
        let deadline = ContinuousClock.now + .seconds(60)
        while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning { process.terminate() }
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0, let last = text.split(separator: "\n").last(where: { $0.hasPrefix("{") })
        else {
            let stderr = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
            throw CocoaError(
                .executableLoad, userInfo: [NSLocalizedDescriptionKey: "Seamless client failed: \(text)\n\(stderr)"])
        }
        return try JSONParser.parse(String(last))
    }

    @Test func seamlessClientRoundTripsBuffersAndResults() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "shunter-client-\(UUID().uuidString)"
        ).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let buffers = try FileBufferStore(directory: directory + "/buffers")
        let results = try SQLiteResultStore(path: directory + "/results.sqlite")
        let router = Router()
        router.get("/healthcheck") { _, _ in "OK" }
        addHashserverRoutes(to: router, store: buffers, writable: true)
        addDatabaseRoutes(to: router, database: results, writable: true)
        try await Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0))).test(
            .live
        ) { client in
            let answer = try await Self.runClient(url: "http://127.0.0.1:\(client.port!)", directory: directory)
            let checksum = try #require(answer["checksum"]?.stringValue)
            #expect(checksum == HashAlgorithm.sha256.checksum(of: Array("hello from seamless".utf8)).hex)
            #expect(answer["roundtrip"] == .bool(true))
            // The client asks /has for lengths: hashserver answers booleans there.
            #expect(answer["lengths"] == .array([.bool(true), .bool(false)]))
            #expect(answer["missing"] == .bool(true))
            #expect(answer["before"] == .bool(true))
            #expect(answer["after"] == .string(checksum))
            #expect(answer["rev"] == .array([.string("44" + String(repeating: "44", count: 31))]))
            #expect(try await buffers.get(try Checksum(hex: checksum)) == Array("hello from seamless".utf8))
        }
    }
}
