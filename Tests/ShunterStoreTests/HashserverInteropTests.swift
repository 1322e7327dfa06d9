import Foundation
import ShunterCore
import ShunterStore
import ShunterTestSupport
import Testing

/// FileBufferStore and the real Python hashserver read each other's directories.
@Suite(.serialized) struct HashserverInteropTests {
    @Test func pythonHashserverServesWhatFileBufferStoreWrote() async throws {
        try await withTemporaryDirectory { directory in
            let buffers = directory + "/buffers"
            let store = try FileBufferStore(directory: buffers)
            let small = Array("hello".utf8)
            let large = testBytes(count: 3_000_000, seed: 3)
            let smallChecksum = try await store.put(small, expected: nil)
            let largeChecksum = try await store.put(large, expected: nil)

            let server = try await PythonServer.hashserver(directory: buffers)
            defer { server.stop() }
            let (smallBody, smallResponse) = try await server.request("GET", "/\(smallChecksum.hex)")
            #expect(smallResponse == 200)
            #expect(Array(smallBody) == small)
            let (largeBody, largeResponse) = try await server.request("GET", "/\(largeChecksum.hex)")
            #expect(largeResponse == 200)
            #expect(Array(largeBody) == large)
            let (lengths, _) = try await server.request(
                "GET", "/buffer-length", body: Data("[\"\(smallChecksum.hex)\", \"\(largeChecksum.hex)\"]".utf8),
                json: true)
            #expect(String(decoding: lengths, as: UTF8.self) == "[5,3000000]")
        }
    }

    @Test func fileBufferStoreReadsWhatPythonHashserverWrote() async throws {
        try await withTemporaryDirectory { directory in
            let buffers = directory + "/buffers"
            try FileManager.default.createDirectory(atPath: buffers, withIntermediateDirectories: true)
            let server = try await PythonServer.hashserver(directory: buffers)
            defer { server.stop() }
            let payloads = [Array("hello".utf8), testBytes(count: 2_000_000, seed: 9)]
            var checksums: [Checksum] = []
            for payload in payloads {
                let checksum = HashAlgorithm.sha256.checksum(of: payload)
                let (_, response) = try await server.request("PUT", "/\(checksum.hex)", body: Data(payload))
                #expect(response == 200)
                checksums.append(checksum)
            }
            let store = try FileBufferStore(directory: buffers)
            #expect(store.layout == .prefix)
            for (checksum, payload) in zip(checksums, payloads) {
                #expect(try await store.get(checksum) == payload)
                #expect(try await store.length(checksum) == payload.count)
            }
            #expect(try await store.has(checksums + [HashAlgorithm.sha256.checksum(of: [0])]) == [true, true, false])
        }
    }

    @Test func fileBufferStoreReadsPythonFlatLayout() async throws {
        try await withTemporaryDirectory { directory in
            let buffers = directory + "/flat"
            try FileManager.default.createDirectory(atPath: buffers, withIntermediateDirectories: true)
            let server = try await PythonServer.hashserver(directory: buffers, extra: ["--layout", "flat"])
            defer { server.stop() }
            let payload = Array("flat buffer".utf8)
            let checksum = HashAlgorithm.sha256.checksum(of: payload)
            let (_, response) = try await server.request("PUT", "/\(checksum.hex)", body: Data(payload))
            #expect(response == 200)
            #expect(FileManager.default.fileExists(atPath: "\(buffers)/\(checksum.hex)"))
            let store = try FileBufferStore(directory: buffers)
            #expect(store.layout == .flat)
            #expect(try await store.get(checksum) == payload)
        }
    }
}
