import Foundation
import Hummingbird
import HummingbirdTesting
import ShunterCore
import ShunterStore
import ShunterTestSupport
import Testing

@testable import ShunterServer

/// A buffer upload on a full disk is answered 507 with a message (it was 500 with an empty body
/// and nothing in the log), and leaves nothing behind.
@Suite struct FullDiskAnswerTests {
    @Test func anUploadToAFullStoreIs507WithAMessageAndFreesWhatItWrote() async throws {
        let disk = try SmallFileSystem(megabytes: 1)
        defer { disk.remove() }
        let store = try FileBufferStore(directory: disk.path + "/buffers")
        let router = Router()
        router.add(middleware: ErrorAnswerMiddleware())
        addHashserverRoutes(to: router, store: store, writable: true)
        let large = [UInt8](repeating: 1, count: 2 << 20)
        let largeChecksum = HashAlgorithm.sha256.checksum(of: large)
        try await Application(router: router).test(.router) { client in
            try await client.execute(uri: "/\(largeChecksum.hex)", method: .put, body: ByteBuffer(bytes: large)) {
                response in
                #expect(response.status == HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage"))
                let text = String(buffer: response.body)
                #expect(text.hasPrefix("the broker's disk is full: "), "\(text)")
                #expect(text.contains("No space left on device"), "\(text)")
            }
            // The half-written buffer is gone: a small one fits again.
            let small = Array("fits\n".utf8)
            try await client.execute(
                uri: "/\(HashAlgorithm.sha256.checksum(of: small).hex)", method: .put, body: ByteBuffer(bytes: small)
            ) { response in
                #expect(response.status == .ok)
            }
        }
        #expect(try await store.has([largeChecksum]) == [false])
    }

    @Test func anyOtherFailureIs500WithTheErrorSaid() async throws {
        struct Broken: Error, CustomStringConvertible { var description: String { "the part is broken" } }
        let router = Router()
        router.add(middleware: ErrorAnswerMiddleware())
        router.get("/broken") { _, _ -> Response in throw Broken() }
        try await Application(router: router).test(.router) { client in
            try await client.execute(uri: "/broken", method: .get) { response in
                #expect(response.status == .internalServerError)
                #expect(String(buffer: response.body) == "the broker could not answer: the part is broken\n")
            }
        }
    }
}
