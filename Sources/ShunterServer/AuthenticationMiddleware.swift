import Foundation
import Hummingbird
import Logging
import ShunterAuth

/// Authenticates every request before its route runs (`RequestAuthenticator` decides), and
/// writes the audit log's line for every authenticated write once it is answered.
///
/// Answers 401 without a valid token, 403 with a token whose scope is too small, 429 after
/// too many failed attempts from one address, each with a sentence that says what to do.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = ShunterRequestContext
    let authenticator: RequestAuthenticator
    let audit: AuditLog?
    let logger: Logger

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let method = request.method.rawValue
        let path = request.uri.path
        let decision = authenticator.decide(
            method: method, path: path, authorization: request.headers[.authorization], client: context.clientAddress)
        switch decision {
        case .allowed(let principal):
            var context = context
            context.principal = principal
            guard let audit, RoutePolicy.isWrite(method: method, path: path) else {
                return try await next(request, context)
            }
            do {
                let response = try await next(request, context)
                audit.record(principal: principal.name, method: method, path: path, status: Int(response.status.code))
                return response
            } catch {
                audit.record(
                    principal: principal.name, method: method, path: path,
                    status: Int(ShunterHTTPError.status(of: error).code))
                throw error
            }
        case .unauthenticated(let sentence):
            logger.notice(
                "refused a request without a valid token",
                metadata: [
                    "client": "\(context.clientAddress)", "method": "\(method)", "path": "\(path)",
                    "reason": "\(sentence)",
                ])
            var headers = HTTPFields()
            headers[.wwwAuthenticate] = "Bearer realm=\"shunter\", Basic realm=\"shunter\""
            return Self.answer(.unauthorized, sentence, headers: headers)
        case .forbidden(let sentence):
            logger.notice(
                "refused a request beyond its token's scope",
                metadata: ["client": "\(context.clientAddress)", "method": "\(method)", "path": "\(path)"])
            return Self.answer(.forbidden, sentence)
        case .slowDown(let seconds):
            var headers = HTTPFields()
            let wait = max(1, Int(seconds.rounded(.up).clamped(to: 1...3600)))
            headers[.retryAfter] = "\(wait)"
            return Self.answer(
                .tooManyRequests,
                "too many failed authentications from \(context.clientAddress): try again in \(wait) s",
                headers: headers)
        case .unavailable(let sentence):
            logger.error("cannot authenticate", metadata: ["error": "\(sentence)"])
            return Self.answer(.internalServerError, sentence)
        }
    }

    static func answer(_ status: HTTPResponse.Status, _ sentence: String, headers: HTTPFields = HTTPFields())
        -> Response
    {
        var headers = headers
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: sentence + "\n")))
    }
}

extension Comparable {
    fileprivate func clamped(to range: ClosedRange<Self>) -> Self { min(max(self, range.lowerBound), range.upperBound) }
}
