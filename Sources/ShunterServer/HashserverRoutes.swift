import Foundation
import Hummingbird
import ShunterCore
import ShunterStore

/// The hashserver buffer API (PyPI `hashserver`, the buffer server of Seamless 1.x), served
/// from a `BufferStore` with the statuses, bodies and content types the Python server gives.
///
/// `GET /{checksum}` is a one-segment parameter route; Hummingbird's trie prefers constant
/// segments, so `/healthcheck`, `/has`, `/run-transformation`, `/jobs` … are not shadowed.
/// Uploads are streamed into the store (`BufferStore.put(streaming:)`), so a large buffer is
/// hashed as it arrives, off the event loop, and never collected whole for the file store.
///
/// - Parameters:
///   - writable: registers `PUT /{checksum}` and `PUT /promise/{checksum}` (hashserver's
///     `--writable`); without it those answer 405 as hashserver's do.
///   - maxChecksums: the most checksums one `/has`, `/has-now` or `/buffer-length` request may
///     ask about; more get 413 with a sentence saying to split the list. One request for a
///     million checksums would otherwise hold the broker's attention for seconds.
///   - maxListBytes: the largest JSON body those routes accept; by default room for
///     `maxChecksums` checksums written with generous white space.
package func addHashserverRoutes<Context: RequestContext>(
    to router: Router<Context>, store: any BufferStore, writable: Bool, maxChecksums: Int = 100_000,
    maxListBytes: Int? = nil
) {
    let maxListBytes = maxListBytes ?? maxChecksums * 128
    /// `/has`, `/has-now` and `/buffer-length` take a JSON list of checksums and answer a list.
    func addListRoute(_ path: RouterPath, answer: @escaping @Sendable ([Checksum]) async throws -> [JSONValue]) {
        router.get(path) { request, _ -> Response in
            func tooMany(_ got: String) -> Response {
                StoreRouteResponse.text(
                    .contentTooLarge,
                    "\(path) takes at most \(maxChecksums) checksums per request, got \(got): send them in several requests\n",
                    contentType: "text/plain; charset=utf-8")
            }
            switch await HashserverRequest.checksumList(request, limit: maxListBytes) {
            case .success(let checksums):
                guard checksums.count <= maxChecksums else { return tooMany("\(checksums.count)") }
                return StoreRouteResponse.json(.ok, .array(try await answer(checksums)))
            case .failure(let invalid) where invalid.type == "too_long":
                return tooMany("a body of more than \(maxListBytes) bytes")
            case .failure(let invalid):
                return invalid.response
            }
        }
    }
    addListRoute("/has") { try await store.has($0).map { .bool($0) } }
    addListRoute("/has-now") { try await store.hasNow($0).map { .bool($0) } }
    addListRoute("/buffer-length") { checksums in
        var lengths: [JSONValue] = []
        for checksum in checksums {
            // hashserver answers 0 for an absent buffer.
            lengths.append(.int(Int64(try await store.length(checksum) ?? 0)))
        }
        return lengths
    }

    router.get("/:checksum") { _, context -> Response in
        let checksum: Checksum
        switch HashserverRequest.checksum(context.parameters.get("checksum") ?? "", location: .path) {
        case .success(let parsed): checksum = parsed
        case .failure(let invalid): return invalid.response
        }
        do {
            if let files = store as? any FileBackedBufferStore {
                guard let file = try await files.open(checksum) else { return HashserverRequest.notFound }
                return try await HashserverRequest.bufferResponse(file)
            }
            guard let buffer = try await store.get(checksum) else { return HashserverRequest.notFound }
            return HashserverRequest.bufferResponse(checksum, body: ResponseBody(byteBuffer: ByteBuffer(bytes: buffer)))
        } catch BufferStoreError.promiseTimedOut {
            return HashserverRequest.notFound // hashserver: an expired promise is just an absent buffer
        } catch let error as StoredBufferError {
            return StoreRouteResponse.json(.badRequest, .object(["message": .string("\(error)")]))
        }
    }

    guard writable else {
        let methodNotAllowed: @Sendable (Request, Context) async throws -> Response = { _, _ in
            StoreRouteResponse.json(.methodNotAllowed, .object(["detail": .string("Method Not Allowed")]))
        }
        router.put("/:checksum", use: methodNotAllowed)
        router.put("/promise/:checksum", use: methodNotAllowed)
        return
    }

    router.put("/promise/:checksum") { _, context -> Response in
        let checksum: Checksum
        switch HashserverRequest.checksum(context.parameters.get("checksum") ?? "", location: .path) {
        case .success(let parsed): checksum = parsed
        case .failure(let invalid): return invalid.response
        }
        try await store.promise(checksum)
        let expiresIn = (store as? any PromiseKeeping)?.promises.timeToLive ?? .seconds(600)
        let components = expiresIn.components
        let seconds = Double(components.seconds) + Double(components.attoseconds) / 1e18
        return StoreRouteResponse.json(
            .accepted, .object(["checksum": .string(checksum.hex), "expires_in": .double(seconds)]))
    }

    router.put("/:checksum") { request, context -> Response in
        let checksum: Checksum
        switch HashserverRequest.checksum(context.parameters.get("checksum") ?? "", location: .path) {
        case .success(let parsed): checksum = parsed
        case .failure(let invalid): return invalid.response
        }
        if try await store.length(checksum) != nil {
            // hashserver does not read the body of a buffer it already has.
            return Response(status: .created)
        }
        let chunks = request.body.map { Array($0.readableBytesView) }
        do {
            try await store.put(streaming: chunks, expected: checksum)
        } catch BufferStoreError.checksumMismatch {
            return StoreRouteResponse.text(.badRequest, "Incorrect checksum")
        }
        return StoreRouteResponse.text(.ok, "OK")
    }
}

/// Parsing of hashserver requests, with the 400 bodies FastAPI gives for invalid input:
/// `{"message": "Invalid data", "exception": {"type", "loc", "msg", "input"}}`.
enum HashserverRequest {
    struct Invalid: Error {
        var type: String
        var location: [JSONValue]
        var message: String
        var input: JSONValue

        var response: Response {
            StoreRouteResponse.json(
                .badRequest,
                .object([
                    "message": .string("Invalid data"),
                    "exception": .object([
                        "type": .string(type), "loc": .array(location), "msg": .string(message), "input": input,
                    ]),
                ]))
        }
    }

    enum Location {
        case path
        case body(index: Int)

        var json: [JSONValue] {
            switch self {
            case .path: [.string("path"), .string("checksum")]
            case .body(let index): [.string("body"), .int(Int64(index))]
            }
        }
    }

    /// Buffers up to this size are read (and verified) whole before the answer starts, so a
    /// corrupt one gets a 400; larger ones are streamed.
    static let wholeBufferLimit = StoredBufferFile.defaultChunkSize

    /// A stored buffer's answer. A small one is read into one `ByteBuffer` and verified first
    /// (one write, a 400 when corrupt). A large one is streamed from its file chunk by chunk,
    /// so the buffer is never whole in memory and sending starts after the first chunk; when
    /// the store verifies reads and the file does not hash to its name, the last chunk is
    /// never sent and the connection is closed: the client sees a body shorter than its
    /// `Content-Length`, an error, rather than a corrupt buffer (see `StoredBufferFile`).
    static func bufferResponse(_ file: StoredBufferFile) async throws -> Response {
        guard file.size > wholeBufferLimit else {
            var whole = ByteBuffer()
            try await file.chunks(chunkSize: max(file.size, 1)) { whole = $0 }
            return bufferResponse(file.checksum, body: ResponseBody(byteBuffer: whole))
        }
        return bufferResponse(
            file.checksum,
            body: ResponseBody(contentLength: file.size) { writer in
                try await file.chunks { try await writer.write($0) }
                try await writer.finish(nil)
            })
    }

    static func bufferResponse(_ checksum: Checksum, body: ResponseBody) -> Response {
        Response(
            status: .ok,
            headers: [
                .contentType: "application/octet-stream",
                .contentDisposition: "attachment; filename=\"\(checksum.hex)\"",
            ],
            body: body)
    }

    static var notFound: Response {
        StoreRouteResponse.text(.notFound, "Not found")
    }

    /// hashserver's `parse_checksum`: odd length or not 32 bytes → "Wrong length", a non-hex
    /// character → Python's `fromhex` message with its position.
    static func checksum(_ text: String, location: Location) -> Result<Checksum, Invalid> {
        func invalid(_ message: String) -> Result<Checksum, Invalid> {
            .failure(
                Invalid(
                    type: "value_error", location: location.json, message: "Value error, " + message,
                    input: .string(text)))
        }
        let scalars = Array(text.unicodeScalars)
        if scalars.count % 2 == 1 { return invalid("Wrong length") }
        if let position = scalars.firstIndex(where: { !$0.properties.isASCIIHexDigit }) {
            return invalid("non-hexadecimal number found in fromhex() arg at position \(position)")
        }
        guard let checksum = try? Checksum(hex: text) else { return invalid("Wrong length") }
        return .success(checksum)
    }

    /// The JSON list of checksums that `/has`, `/has-now` and `/buffer-length` take as body.
    static func checksumList(_ request: Request, limit: Int) async -> Result<[Checksum], Invalid> {
        guard let buffer = try? await request.body.collect(upTo: limit) else {
            return .failure(
                Invalid(
                    type: "too_long", location: [.string("body")],
                    message: "request body larger than \(limit) bytes", input: .null))
        }
        let bytes = Array(buffer.readableBytesView)
        // Parsing a long list takes a while: not on the event loop that serves other requests.
        guard bytes.count > 64 << 10, let parsed = try? await BlockingIO.run({ checksumList(bytes) }) else {
            return checksumList(bytes)
        }
        return parsed
    }

    static func checksumList(_ bytes: [UInt8]) -> Result<[Checksum], Invalid> {
        if bytes.isEmpty {
            return .failure(
                Invalid(type: "missing", location: [.string("body")], message: "Field required", input: .null))
        }
        guard let value = try? JSONParser.parse(bytes) else {
            return .failure(
                Invalid(
                    type: "json_invalid", location: [.string("body"), .int(0)], message: "JSON decode error",
                    input: .object([:])))
        }
        guard let items = value.arrayValue else {
            return .failure(
                Invalid(
                    type: "list_type", location: [.string("body")], message: "Input should be a valid list",
                    input: value))
        }
        var checksums: [Checksum] = []
        for (index, item) in items.enumerated() {
            guard let text = item.stringValue else {
                return .failure(
                    Invalid(
                        type: "string_type", location: [.string("body"), .int(Int64(index))],
                        message: "Input should be a valid string", input: item))
            }
            switch checksum(text, location: .body(index: index)) {
            case .success(let parsed): checksums.append(parsed)
            case .failure(let invalid): return .failure(invalid)
            }
        }
        return .success(checksums)
    }
}

/// Response helpers of the store routes (hashserver and seamless-database), which need the
/// Python servers' exact content types.
enum StoreRouteResponse {
    /// Compact JSON, as FastAPI's `JSONResponse` writes it.
    static func json(_ status: HTTPResponse.Status, _ value: JSONValue) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: CanonicalJSON.encodeCompact(value))))
    }

    /// A text body; `contentType` nil leaves the header out, as FastAPI's plain `Response` does.
    static func text(_ status: HTTPResponse.Status, _ text: String, contentType: String? = nil) -> Response {
        var headers = HTTPFields()
        if let contentType { headers[.contentType] = contentType }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
