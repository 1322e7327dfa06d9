import Foundation
import Hummingbird
import ShunterCore

/// Responses in the shapes the Python servers give: plain text bodies for errors (Seamless
/// clients show them to users as they are) and JSON for data.
enum PlainResponse {
    static func text(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(
            status: status, headers: [.contentType: "text/plain; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: CanonicalJSON.encodeCompact(value))))
    }

    static func json(_ status: HTTPResponse.Status, _ value: JSONValue) -> Response {
        json(value, status: status)
    }

    static func encoded(_ status: HTTPResponse.Status = .ok, _ value: some Encodable) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// A request the server refuses, with the text the client sees.
struct BadRequest: Error, HTTPResponseError {
    var status: HTTPResponse.Status = .badRequest
    var message: String

    init(_ message: String, status: HTTPResponse.Status = .badRequest) {
        self.message = message
        self.status = status
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        PlainResponse.text(status, message)
    }
}

extension Request {
    /// The body as bytes, refusing more than `limit` with 413.
    func collectBytes(upTo limit: Int) async throws -> [UInt8] {
        // A declared length over the limit is refused before any of the body is read: the
        // client learns at once, rather than after sending (or trickling) all of it.
        if let declared = headers[.contentLength].flatMap({ UInt64($0) }), declared > UInt64(limit) {
            throw BadRequest(
                "request body of \(declared) bytes is larger than the \(limit) bytes this route takes",
                status: .contentTooLarge)
        }
        do {
            let buffer = try await body.collect(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch {
            throw BadRequest("request body larger than \(limit) bytes", status: .contentTooLarge)
        }
    }

    /// The body parsed as JSON, with a 400 that says where the JSON is broken.
    func collectJSON(upTo limit: Int = 64 << 20) async throws -> JSONValue {
        let bytes = try await collectBytes(upTo: limit)
        guard !bytes.isEmpty else { throw BadRequest("the request needs a JSON body") }
        do {
            return try JSONParser.parse(bytes)
        } catch {
            throw BadRequest("Invalid JSON: \(error)")
        }
    }
}

extension RequestContext {
    /// A path parameter parsed as a checksum, or a 400 naming the parameter.
    func checksumParameter(_ name: String) throws -> Checksum {
        let text = parameters.get(name) ?? ""
        do {
            return try Checksum(hex: text)
        } catch {
            throw BadRequest("Invalid checksum: \(error)")
        }
    }
}
