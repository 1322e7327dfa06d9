import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ShunterCore

#if canImport(Glibc)
    import Glibc
#endif

/// Buffers in an external hashserver (or another Shunter), over its HTTP API.
///
/// Every buffer is checked against its checksum on the way in and on the way out, so a
/// misbehaving server can neither be fed nor feed a wrong buffer. Promises are the server's:
/// a `get` of a promised buffer is answered by the server when the buffer arrives.
package struct RemoteBufferStore: BufferStore {
    package let url: String
    package let hashAlgorithm: HashAlgorithm
    /// How long one request may take; a `get` of a promised buffer waits on the server up to
    /// the promise's lifetime (hashserver: 600 s), so this should be longer than that.
    package let timeout: Duration
    private let client: HTTPClient

    package init(
        url: String, hashAlgorithm: HashAlgorithm = .sha256, timeout: Duration = .seconds(660),
        client: HTTPClient = .shared
    ) {
        self.url = url.hasSuffix("/") ? String(url.dropLast()) : url
        self.hashAlgorithm = hashAlgorithm
        self.timeout = timeout
        self.client = client
    }

    package func get(_ checksum: Checksum) async throws -> [UInt8]? {
        let (status, body) = try await send(.GET, "/\(checksum.hex)")
        if status == 404 { return nil }
        try expect(status, in: [200], body: body, path: "/\(checksum.hex)")
        let actual = hashAlgorithm.checksum(of: body)
        guard actual == checksum else { throw BufferStoreError.checksumMismatch(expected: checksum, actual: actual) }
        return body
    }

    @discardableResult
    package func put(_ buffer: [UInt8], expected: Checksum?) async throws -> Checksum {
        let checksum = hashAlgorithm.checksum(of: buffer)
        if let expected, expected != checksum {
            throw BufferStoreError.checksumMismatch(expected: expected, actual: checksum)
        }
        let (status, body) = try await send(.PUT, "/\(checksum.hex)", body: buffer)
        // 200 stored, 201 already there, 202 another upload of it is in progress.
        try expect(status, in: [200, 201, 202], body: body, path: "/\(checksum.hex)")
        return checksum
    }

    package func has(_ checksums: [Checksum]) async throws -> [Bool] {
        try await list("/has", checksums).map { $0 == .bool(true) }
    }

    package func hasNow(_ checksums: [Checksum]) async throws -> [Bool] {
        try await list("/has-now", checksums).map { $0 == .bool(true) }
    }

    package func length(_ checksum: Checksum) async throws -> Int? {
        guard case .int(let length) = try await list("/buffer-length", [checksum]).first else { return nil }
        // hashserver answers 0 for an absent buffer; only then is the empty buffer in doubt.
        if length == 0, try await hasNow([checksum]) != [true] { return nil }
        return Int(length)
    }

    package func promise(_ checksum: Checksum) async throws {
        let (status, body) = try await send(.PUT, "/promise/\(checksum.hex)")
        try expect(status, in: [200, 202], body: body, path: "/promise/\(checksum.hex)")
    }

    /// Streams the download to a temporary file beside `path`, hashing as it goes; the file
    /// is renamed into place only when the bytes match the checksum.
    package func materialize(_ checksum: Checksum, to path: String) async throws {
        var request = HTTPClientRequest(url: url + "/\(checksum.hex)")
        request.method = .GET
        let response = try await client.execute(request, timeout: .nanoseconds(timeout.nanoseconds))
        let status = Int(response.status.code)
        if status == 404 { throw BufferStoreError.notFound(checksum) }
        guard status == 200 else {
            let body = try await response.body.collect(upTo: 1 << 20)
            throw BufferStoreError.remote(url: url + "/\(checksum.hex)", status: status, message: String(buffer: body))
        }
        let (fd, tempPath) = try FileSystem.makeTemporaryFile(besides: path)
        defer { close(fd) }
        do {
            var hasher = hashAlgorithm.makeHasher()
            for try await chunk in response.body {
                try chunk.withUnsafeReadableBytes { bytes in
                    hasher.update(bytes)
                    try FileSystem.writeAll(fd, bytes, path: tempPath)
                }
            }
            let actual = hasher.finalize()
            guard actual == checksum else {
                throw BufferStoreError.checksumMismatch(expected: checksum, actual: actual)
            }
            try FileSystem.commitTemporaryFile(fd: fd, tempPath: tempPath, to: path, mode: 0o644)
        } catch {
            unlink(tempPath)
            throw error
        }
    }

    // MARK: - HTTP

    private func list(_ path: String, _ checksums: [Checksum]) async throws -> [JSONValue] {
        let request = CanonicalJSON.encodeCompact(.array(checksums.map { .string($0.hex) }))
        let (status, body) = try await send(.GET, path, body: request, json: true)
        try expect(status, in: [200], body: body, path: path)
        guard let answers = (try? JSONParser.parse(body))?.arrayValue, answers.count == checksums.count else {
            throw BufferStoreError.remote(
                url: url + path, status: status,
                message:
                    "expected a JSON list of \(checksums.count) items, got: \(String(decoding: body.prefix(200), as: UTF8.self))"
            )
        }
        return answers
    }

    private func send(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, json: Bool = false) async throws -> (
        Int, [UInt8]
    ) {
        var request = HTTPClientRequest(url: url + path)
        request.method = method
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        if json { request.headers.add(name: "Content-Type", value: "application/json") }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .nanoseconds(timeout.nanoseconds))
        } catch {
            throw BufferStoreError.remote(url: url + path, status: 0, message: "request failed: \(error)")
        }
        let collected = try await response.body.collect(upTo: Int.max)
        return (Int(response.status.code), Array(collected.readableBytesView))
    }

    private func expect(_ status: Int, in accepted: Set<Int>, body: [UInt8], path: String) throws {
        guard accepted.contains(status) else {
            throw BufferStoreError.remote(
                url: url + path, status: status, message: String(decoding: body.prefix(500), as: UTF8.self))
        }
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let parts = components
        return parts.seconds * 1_000_000_000 + parts.attoseconds / 1_000_000_000
    }
}
