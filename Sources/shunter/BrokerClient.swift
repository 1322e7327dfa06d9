import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ShunterCore

/// The CLI's view of a running broker: its HTTP API, nothing else.
struct BrokerClient {
    let baseURL: String
    /// The broker's buffer hash (from its `/status`).
    let hash: HashAlgorithm
    /// Sent as `Authorization: Bearer TOKEN` with every request, when there is one.
    var token: String? = nil

    struct Reply {
        var status: Int
        var body: [UInt8]
        /// The target of the `Link: <...>; rel="next"` header (a listing's next page), if any.
        var nextPage: String? = nil
        var text: String { String(decoding: body, as: UTF8.self) }

        /// `</jobs?after=job-7>; rel="next"` → `/jobs?after=job-7`.
        static func nextPage(fromLink header: String) -> String? {
            for link in header.split(separator: ",") where link.contains("rel=\"next\"") {
                guard let open = link.firstIndex(of: "<"), let close = link.firstIndex(of: ">"), open < close else {
                    continue
                }
                return String(link[link.index(after: open)..<close])
            }
            return nil
        }
    }

    struct Unreachable: Error, CustomStringConvertible {
        let url: String
        let reason: String
        var description: String {
            "cannot reach the broker at \(url): \(reason) (is `shunter serve` running? see --url)"
        }
    }

    /// A client for the broker at `url`, once it has answered a health check. Failing fast
    /// here matters: HTTP clients retry refused connections until a request's deadline.
    /// The broker's `/status` also says which hash it checks buffers with, which the CLI must
    /// use to name the buffers it uploads.
    static func connect(_ option: BrokerURLOption) async throws -> BrokerClient {
        let (url, token) = option.resolved
        return try await connect(url, token: token)
    }

    static func connect(_ url: String, token: String? = nil) async throws -> BrokerClient {
        let probe = BrokerClient(baseURL: url, hash: .sha256, token: token)
        let reply = try await probe.request(.GET, "/status", timeout: .seconds(5))
        if reply.status == 401 || reply.status == 403 {
            throw CommandFailure(
                "the broker at \(url) refused the \(token == nil ? "request (no token given)" : "token"): "
                    + "\(reply.text.trimmingCharacters(in: .whitespacesAndNewlines)) (see --token or SHUNTER_TOKEN)")
        }
        guard reply.status == 200, let status = try? JSONParser.parse(reply.body),
            status["service"]?.stringValue == "shunter"
        else {
            throw Unreachable(
                url: url, reason: "/status answered \(reply.status): \(reply.text.prefix(200)) (not a Shunter broker?)")
        }
        let hash = status["hash"]?.stringValue.flatMap(HashAlgorithm.init(rawValue:)) ?? .sha256
        return BrokerClient(baseURL: url, hash: hash, token: token)
    }

    enum Method: String {
        case GET, POST, PUT
    }

    func request(_ method: Method, _ path: String, body: [UInt8]? = nil, timeout: TimeAmount = .hours(24)) async throws
        -> Reply
    {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = HTTPMethod(rawValue: method.rawValue)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.body = .bytes(ByteBuffer(bytes: body))
            request.headers.add(name: "Content-Type", value: "application/json")
        }
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: timeout)
        } catch {
            throw Unreachable(url: baseURL, reason: "\(error)")
        }
        let collected = try await response.body.collect(upTo: 1 << 34)
        return Reply(
            status: Int(response.status.code), body: Array(collected.readableBytesView),
            nextPage: response.headers["Link"].first.flatMap(Reply.nextPage(fromLink:)))
    }

    /// Uploads a buffer through the hashserver route; returns its checksum.
    func putBuffer(_ buffer: [UInt8]) async throws -> Checksum {
        let checksum = hash.checksum(of: buffer)
        var request = HTTPClientRequest(url: baseURL + "/" + checksum.hex)
        request.method = .PUT
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.body = .bytes(ByteBuffer(bytes: buffer))
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: .hours(1))
        } catch {
            throw Unreachable(url: baseURL, reason: "\(error)")
        }
        let body = try await response.body.collect(upTo: 1 << 20)
        guard (200..<300).contains(Int(response.status.code)) else {
            throw CommandFailure(
                "the broker refused buffer \(checksum): \(response.status.code) \(String(buffer: body))")
        }
        return checksum
    }
}

/// A failure the CLI reports in one line and maps to an exit code.
struct CommandFailure: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}
