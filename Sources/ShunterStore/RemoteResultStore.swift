import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ShunterCore

/// The result cache in an external seamless-database (or another Shunter), over its
/// `GET /` / `PUT /` JSON protocol, as Seamless's own `DatabaseClient` speaks it.
package struct RemoteResultStore: ResultStore {
    package let url: String
    package let timeout: Duration
    private let client: HTTPClient

    package init(url: String, timeout: Duration = .seconds(60), client: HTTPClient = .shared) {
        self.url = url.hasSuffix("/") ? String(url.dropLast()) : url
        self.timeout = timeout
        self.client = client
    }

    package func result(for transformation: Checksum) async throws -> Checksum? {
        guard let text = try await get(["type": .string("transformation"), "checksum": .string(transformation.hex)])
        else {
            return nil
        }
        do {
            return try Checksum(hex: text.trimmingCharacters(in: .whitespacesAndNewlines))
        } catch {
            throw SeamlessDatabaseError.malformed(
                "\(url) answered a transformation result that is not a checksum: \(error)")
        }
    }

    /// Sets the result, then the execution record as a metadata row. A record that the
    /// database already holds in another version is left as it is (Seamless's client does
    /// the same with that 409).
    package func setResult(_ result: Checksum, for transformation: Checksum, record: ExecutionRecord?) async throws {
        try await put([
            "type": .string("transformation"), "checksum": .string(transformation.hex), "value": .string(result.hex),
        ])
        guard let record else { return }
        let metadata = SQLiteResultStore.seamlessMetadata(for: record, transformation: transformation, result: result)
        do {
            try await put([
                "type": .string("metadata"), "checksum": .string(transformation.hex), "result": .string(result.hex),
                "value": metadata,
            ])
        } catch SeamlessDatabaseError.conflict {
            return
        }
    }

    /// The `protocol` answer, e.g. `["seamless", "database", "2.2"]`.
    package func protocolVersion() async throws -> [String] {
        let text = try await get(["type": .string("protocol")]) ?? ""
        return (try? JSONParser.parse(text))?.arrayValue?.compactMap(\.stringValue) ?? []
    }

    /// The execution record of a transformation, as stored.
    package func metadata(for transformation: Checksum) async throws -> JSONValue? {
        try await get(["type": .string("metadata"), "checksum": .string(transformation.hex)])
            .flatMap { try? JSONParser.parse($0) }
    }

    package func transformations(producing result: Checksum) async throws -> [Checksum] {
        guard let text = try await get(["type": .string("rev_transformations"), "checksum": .string(result.hex)]) else {
            return []
        }
        return (try? JSONParser.parse(text))?.arrayValue?.compactMap {
            $0.stringValue.flatMap { try? Checksum(hex: $0) }
        } ?? []
    }

    // MARK: - HTTP

    /// The answer's text, or nil for 404 (`ERROR: Unknown key`).
    private func get(_ request: [String: JSONValue]) async throws -> String? {
        let (status, text) = try await send(.GET, request)
        if status == 404 { return nil }
        try check(status, text)
        return text
    }

    private func put(_ request: [String: JSONValue]) async throws {
        let (status, text) = try await send(.PUT, request)
        try check(status, text)
    }

    private func check(_ status: Int, _ text: String) throws {
        let message = text.hasPrefix("ERROR: ") ? String(text.dropFirst(7)) : "\(url) answered \(status): \(text)"
        switch status {
        case 200: return
        case 404: throw SeamlessDatabaseError.notFound(message)
        case 405: throw SeamlessDatabaseError.readOnly
        case 409: throw SeamlessDatabaseError.conflict(message)
        default: throw SeamlessDatabaseError.malformed(message)
        }
    }

    private func send(_ method: HTTPMethod, _ body: [String: JSONValue]) async throws -> (Int, String) {
        var request = HTTPClientRequest(url: url + "/")
        request.method = method
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: CanonicalJSON.encodeCompact(.object(body))))
        let response = try await client.execute(request, timeout: .nanoseconds(timeout.nanoseconds))
        let collected = try await response.body.collect(upTo: 256 << 20)
        return (Int(response.status.code), String(buffer: collected))
    }
}
