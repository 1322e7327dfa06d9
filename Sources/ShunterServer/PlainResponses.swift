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

extension Request {
    /// The body as bytes, refusing more than `limit` with 413.
    func collectBytes(upTo limit: Int) async throws -> [UInt8] {
        // A declared length over the limit is refused before any of the body is read: the
        // client learns at once, rather than after sending (or trickling) all of it.
        if let declared = headers[.contentLength].flatMap({ UInt64($0) }), declared > UInt64(limit) {
            throw ShunterHTTPError.contentTooLarge(
                "request body of \(declared) bytes is larger than the \(limit) bytes this route takes")
        }
        do {
            let buffer = try await body.collect(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch {
            throw ShunterHTTPError.contentTooLarge("request body larger than \(limit) bytes")
        }
    }

    /// The body parsed as JSON, with a 400 that says where the JSON is broken.
    func collectJSON(upTo limit: Int = 64 << 20) async throws -> JSONValue {
        let bytes = try await collectBytes(upTo: limit)
        guard !bytes.isEmpty else { throw ShunterHTTPError.badRequest("the request needs a JSON body") }
        do {
            return try JSONParser.parse(bytes)
        } catch {
            throw ShunterHTTPError.badRequest("Invalid JSON: \(error)")
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
            throw ShunterHTTPError.badRequest("Invalid checksum: \(error)")
        }
    }
}
