import Foundation
import Hummingbird
import HummingbirdTesting
import ShunterCore
import ShunterServer
import ShunterStore
import ShunterTestSupport
import Testing

@Suite struct HashserverRoutesTests {
    let hello = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    let absent = "2222222222222222222222222222222222222222222222222222222222222222"

    func app(store: any BufferStore, writable: Bool = true) -> some ApplicationProtocol {
        let router = Router()
        // Routes the lead's jobserver and native API register beside these.
        router.get("/healthcheck") { _, _ in "OK" }
        addHashserverRoutes(to: router, store: store, writable: writable)
        router.get("/run-transformation") { _, _ in "jobserver" }
        router.get("/jobs") { _, _ in "jobs" }
        router.get("/api") { _, _ in "api" }
        return Application(router: router)
    }

    func text(_ buffer: ByteBuffer) -> String { String(buffer: buffer) }

    func json(_ buffer: ByteBuffer) throws -> JSONValue { try JSONParser.parse(Array(buffer.readableBytesView)) }

    @Test func putThenGetAsHashserverAnswers() async throws {
        try await app(store: MemoryBufferStore()).test(.router) { client in
            try await client.execute(uri: "/\(hello)", method: .put, body: ByteBuffer(string: "hello")) { response in
                #expect(response.status == .ok)
                #expect(text(response.body) == "OK")
            }
            try await client.execute(uri: "/\(hello)", method: .put, body: ByteBuffer(string: "hello")) { response in
                #expect(response.status == .created)
            }
            try await client.execute(uri: "/\(hello)", method: .get) { response in
                #expect(response.status == .ok)
                #expect(text(response.body) == "hello")
                #expect(response.headers[.contentType] == "application/octet-stream")
                #expect(response.headers[.contentDisposition] == "attachment; filename=\"\(hello)\"")
            }
            // Upper-case hex is accepted, as Python's bytes.fromhex accepts it.
            try await client.execute(uri: "/\(hello.uppercased())", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test func tooManyChecksumsInOneListAre413WithASentence() async throws {
        let router = Router()
        addHashserverRoutes(to: router, store: MemoryBufferStore(), writable: true, maxChecksums: 3)
        try await Application(router: router).test(.router) { client in
            let four = ByteBuffer(
                string: "[" + Array(repeating: "\"\(absent)\"", count: 4).joined(separator: ",") + "]")
            for path in ["/has", "/has-now", "/buffer-length"] {
                try await client.execute(uri: path, method: .get, body: four) { response in
                    #expect(response.status == .contentTooLarge)
                    #expect(
                        text(response.body)
                            == "\(path) takes at most 3 checksums per request, got 4: send them in several requests\n")
                }
            }
            // A body too long for the cap is refused the same way, before it is parsed.
            let long = ByteBuffer(
                string: "[" + Array(repeating: "\"\(absent)\"", count: 6).joined(separator: ",") + "]")
            try await client.execute(uri: "/has", method: .get, body: long) { response in
                #expect(response.status == .contentTooLarge)
                #expect(
                    text(response.body)
                        == "/has takes at most 3 checksums per request, got a body of more than 384 bytes: send them in several requests\n"
                )
            }
            let three = ByteBuffer(
                string: "[" + Array(repeating: "\"\(absent)\"", count: 3).joined(separator: ",") + "]")
            try await client.execute(uri: "/has", method: .get, body: three) { response in
                #expect(response.status == .ok)
                #expect(text(response.body) == "[false,false,false]")
            }
        }
    }

    @Test func wrongBodyIsRefusedAndAbsentIs404() async throws {
        try await app(store: MemoryBufferStore()).test(.router) { client in
            try await client.execute(uri: "/\(hello)", method: .put, body: ByteBuffer(string: "hellx")) { response in
                #expect(response.status == .badRequest)
                #expect(text(response.body) == "Incorrect checksum")
            }
            try await client.execute(uri: "/\(hello)", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(text(response.body) == "Not found")
            }
        }
    }

    @Test func malformedChecksumGetsFastAPIValidationBody() async throws {
        try await app(store: MemoryBufferStore()).test(.router) { client in
            try await client.execute(uri: "/abc", method: .get) { response in
                #expect(response.status == .badRequest)
                #expect(response.headers[.contentType] == "application/json")
                // As the Python hashserver answers (key order aside).
                let expected = try JSONParser.parse(
                    #"{"message":"Invalid data","exception":{"type":"value_error","loc":["path","checksum"],"msg":"Value error, Wrong length","input":"abc"}}"#
                )
                let answer = try json(response.body)
                #expect(answer == expected)
            }
            try await client.execute(uri: "/zz", method: .get) { response in
                #expect(response.status == .badRequest)
                let answer = try json(response.body)
                #expect(
                    answer["exception"]?["msg"]
                        == .string("Value error, non-hexadecimal number found in fromhex() arg at position 0"))
            }
        }
    }

    @Test func hasHasNowBufferLengthAndPromise() async throws {
        let store = MemoryBufferStore()
        try await store.put(Array("hello".utf8), expected: nil)
        let promised = "1111111111111111111111111111111111111111111111111111111111111111"
        try await app(store: store).test(.router) { client in
            try await client.execute(uri: "/promise/\(promised)", method: .put) { response in
                #expect(response.status == .accepted)
                #expect(text(response.body) == #"{"checksum":"\#(promised)","expires_in":600.0}"#)
            }
            let list = ByteBuffer(string: #"["\#(hello)","\#(promised)","\#(absent)"]"#)
            try await client.execute(uri: "/has", method: .get, body: list) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                #expect(text(response.body) == "[true,true,false]")
            }
            try await client.execute(uri: "/has-now", method: .get, body: list) { response in
                #expect(text(response.body) == "[true,false,false]")
            }
            try await client.execute(
                uri: "/buffer-length", method: .get, body: ByteBuffer(string: #"["\#(hello)","\#(absent)"]"#)
            ) { response in
                #expect(text(response.body) == "[5,0]")
            }
            try await client.execute(uri: "/has", method: .get, body: ByteBuffer(string: "[]")) { response in
                #expect(text(response.body) == "[]")
            }
            try await client.execute(uri: "/has", method: .get, body: ByteBuffer(string: "{}")) { response in
                #expect(response.status == .badRequest)
                let answer = try json(response.body)
                #expect(answer["exception"]?["type"] == .string("list_type"))
            }
            try await client.execute(uri: "/has", method: .get) { response in
                #expect(response.status == .badRequest)
                let answer = try json(response.body)
                #expect(answer["exception"]?["msg"] == .string("Field required"))
            }
            try await client.execute(uri: "/has", method: .get, body: ByteBuffer(string: #"["xyz"]"#)) { response in
                #expect(response.status == .badRequest)
                let answer = try json(response.body)
                #expect(answer["exception"]?["loc"] == .array([.string("body"), .int(0)]))
            }
        }
    }

    @Test func readOnlyServerRefusesUploads() async throws {
        try await app(store: MemoryBufferStore(), writable: false).test(.router) { client in
            try await client.execute(uri: "/\(hello)", method: .put, body: ByteBuffer(string: "hello")) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(text(response.body) == #"{"detail":"Method Not Allowed"}"#)
            }
            try await client.execute(uri: "/promise/\(hello)", method: .put) { response in
                #expect(response.status == .methodNotAllowed)
            }
        }
    }

    /// GET /{checksum} must not shadow the constant routes registered before or after it.
    @Test func constantRoutesWinOverTheChecksumParameter() async throws {
        try await app(store: MemoryBufferStore()).test(.router) { client in
            for (path, body) in [
                ("/healthcheck", "OK"), ("/run-transformation", "jobserver"), ("/jobs", "jobs"), ("/api", "api"),
            ] {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .ok, "\(path)")
                    #expect(text(response.body) == body, "\(path) was answered by another route")
                }
            }
        }
    }

    /// A 16 MB upload over a real socket lands on disk and reads back the same.
    @Test func largeUploadStreamsIntoTheFileStore() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "shunter-routes-\(UUID().uuidString)"
        ).path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try FileBufferStore(directory: directory)
        let buffer = (0..<(16 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
        let checksum = HashAlgorithm.sha256.checksum(of: buffer)
        try await app(store: store).test(.live) { client in
            try await client.execute(uri: "/\(checksum.hex)", method: .put, body: ByteBuffer(bytes: buffer)) {
                response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/\(checksum.hex)", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.body.readableBytes == buffer.count)
                #expect(Array(response.body.readableBytesView) == buffer)
            }
        }
        #expect(FileManager.default.fileExists(atPath: "\(directory)/\(checksum.prefix(2))/\(checksum.hex)"))
    }
}
