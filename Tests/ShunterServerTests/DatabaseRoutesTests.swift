import Foundation
import Hummingbird
import HummingbirdTesting
import ShunterCore
import ShunterServer
import ShunterStore
import ShunterTestSupport
import Testing

@Suite struct DatabaseRoutesTests {
    let tf = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    let result = "1111111111111111111111111111111111111111111111111111111111111111"

    func withApp(
        writable: Bool = true, _ body: @Sendable (any TestClientProtocol, SQLiteResultStore) async throws -> Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("shunter-db-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteResultStore(path: directory + "/results.sqlite")
        let router = Router()
        addDatabaseRoutes(to: router, database: store, writable: writable)
        addHashserverRoutes(to: router, store: MemoryBufferStore(), writable: true)
        try await Application(router: router).test(.router) { client in try await body(client, store) }
    }

    @Test func protocolTransformationAndUnknownKey() async throws {
        try await withApp { client, store in
            try await client.execute(uri: "/", method: .get, body: ByteBuffer(string: #"{"type": "protocol"}"#)) {
                response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/plain; charset=utf-8")
                #expect(String(buffer: response.body) == #"["seamless", "database", "2.2"]"#)
            }
            let get = ByteBuffer(string: #"{"type": "transformation", "checksum": "\#(tf)"}"#)
            try await client.execute(uri: "/", method: .get, body: get) { response in
                #expect(response.status == .notFound)
                #expect(String(buffer: response.body) == "ERROR: Unknown key")
            }
            let put = ByteBuffer(string: #"{"type": "transformation", "checksum": "\#(tf)", "value": "\#(result)"}"#)
            try await client.execute(uri: "/", method: .put, body: put) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "OK")
            }
            try await client.execute(uri: "/", method: .get, body: get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == result)
            }
            #expect(try await store.result(for: try Checksum(hex: tf)) == (try Checksum(hex: result)))
            try await client.execute(uri: "/", method: .get, body: ByteBuffer(string: "notjson")) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body) == "ERROR: Malformed request")
            }
        }
    }

    @Test func readOnlyDatabaseRefusesPut() async throws {
        try await withApp(writable: false) { client, _ in
            let put = ByteBuffer(string: #"{"type": "transformation", "checksum": "\#(tf)", "value": "\#(result)"}"#)
            try await client.execute(uri: "/", method: .put, body: put) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(String(buffer: response.body) == "ERROR: Database server is read-only")
            }
        }
    }
}
