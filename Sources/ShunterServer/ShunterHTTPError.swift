import Foundation
import Hummingbird
import Logging
import ShunterBroker
import ShunterStore

/// The one error of the HTTP layer: a status and the plain text the client sees (Seamless
/// clients show it to their users as it is). Routes throw it for what they refuse themselves;
/// `init(answering:)` turns any other error (from the job service, a store, the journal) into
/// one, with the status `status(of:)` gives, so that the mapping from errors to statuses lives
/// in this file alone.
///
/// Its answer logs the errors that are the broker's (5xx), with the request's method and path,
/// so that an error answered is never an error unseen.
package struct ShunterHTTPError: Error, HTTPResponseError, CustomStringConvertible {
    package var status: HTTPResponse.Status
    package var message: String
    /// The error this answers, when it answers one (logged with a 5xx).
    package var cause: (any Error)?

    package init(_ status: HTTPResponse.Status, _ message: String, cause: (any Error)? = nil) {
        self.status = status
        self.message = message
        self.cause = cause
    }

    package var description: String { "\(status.code) \(message)" }

    /// 507 has no name in `HTTPResponse.Status`.
    package static let insufficientStorage = HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage")

    // MARK: - What a route refuses itself

    package static func badRequest(_ message: String) -> ShunterHTTPError { .init(.badRequest, message) }
    package static func notFound(_ message: String) -> ShunterHTTPError { .init(.notFound, message) }
    package static func conflict(_ message: String) -> ShunterHTTPError { .init(.conflict, message) }
    package static func contentTooLarge(_ message: String) -> ShunterHTTPError { .init(.contentTooLarge, message) }
    package static func `internal`(_ message: String) -> ShunterHTTPError { .init(.internalServerError, message) }

    // MARK: - Errors from below

    /// The status answering `error`:
    ///
    /// | error                                             | status |
    /// |---------------------------------------------------|--------|
    /// | an `HTTPResponseError` (this type, Hummingbird's) | its own |
    /// | `AdmissionRefusal` `.invalid`                     | 400 |
    /// | `BufferStoreError.checksumMismatch`               | 400 |
    /// | `BrokerError.unknownJob`, `BufferStoreError.notFound`, `.promiseTimedOut` | 404 |
    /// | `BufferStoreError.tooLarge`                       | 413 |
    /// | `AdmissionRefusal` `.unrunnable`, `BrokerError.environmentUnavailable` | 422 |
    /// | `BufferStoreError.remote` (the buffer server failed) | 502 |
    /// | `BrokerError.shuttingDown`                        | 503 |
    /// | a full disk or quota, whichever layer says so     | 507 |
    /// | anything else: the broker's own failure           | 500 |
    package static func status(of error: any Error) -> HTTPResponse.Status {
        switch error {
        case let error as any HTTPResponseError:
            return error.status
        case let refusal as AdmissionRefusal:
            switch refusal.kind {
            case .invalid: return .badRequest
            case .unrunnable: return .unprocessableContent
            }
        case let error as BrokerError:
            switch error {
            case .unknownJob: return .notFound
            case .environmentUnavailable: return .unprocessableContent
            case .shuttingDown: return .serviceUnavailable
            default: return .internalServerError
            }
        case let error as BufferStoreError:
            switch error {
            case .checksumMismatch: return .badRequest
            case .notFound, .promiseTimedOut: return .notFound
            case .tooLarge: return .contentTooLarge
            case .remote: return .badGateway
            case .io: return ErrorAnswer.isDiskFull(error) ? insufficientStorage : .internalServerError
            }
        default:
            return ErrorAnswer.isDiskFull(error) ? insufficientStorage : .internalServerError
        }
    }

    /// The answer to `error`: its status (`status(of:)`) and a text that says what to do. A
    /// refusal's text is its own sentence; a full disk says what to free; any other failure of
    /// the broker says it could not answer, and why.
    package init(answering error: any Error) {
        if let error = error as? ShunterHTTPError {
            self = error
            return
        }
        let status = Self.status(of: error)
        switch status {
        case Self.insufficientStorage:
            self.init(
                status,
                "the broker's disk is full: \(error). Free disk space (buffer store, work directories, journal) and retry.\n",
                cause: error)
        case .internalServerError:
            self.init(status, "the broker could not answer: \(error)\n", cause: error)
        default:
            self.init(status, "\(error)", cause: error)
        }
    }

    package func response(from request: Request, context: some RequestContext) throws -> Response {
        if status.code >= 500 {
            let metadata: Logger.Metadata = [
                "method": "\(request.method)", "path": "\(request.uri.path)", "status": "\(status.code)",
                "error": "\(cause.map(String.init(describing:)) ?? message)",
            ]
            switch status {
            case .serviceUnavailable:
                // Expected while the broker stops: the client retries elsewhere or later.
                context.logger.notice("request refused: the broker is stopping", metadata: metadata)
            case Self.insufficientStorage:
                context.logger.error("request failed: the disk is full", metadata: metadata)
            default:
                context.logger.error("request failed", metadata: metadata)
            }
        }
        return PlainResponse.text(status, message)
    }
}

extension ShunterHTTPError {
    /// `handler` with every error it throws answered as `init(answering:)` says, so that the
    /// routes answer the right status even where no `ErrorAnswerMiddleware` is installed.
    /// Cancellation is passed on: the client is gone and nobody reads the answer.
    package static func answering<Context: RequestContext>(
        _ handler: @escaping @Sendable (Request, Context) async throws -> Response
    ) -> @Sendable (Request, Context) async throws -> Response {
        { request, context in
            do {
                return try await handler(request, context)
            } catch let error as CancellationError {
                throw error
            } catch let error as any HTTPResponseError {
                throw error
            } catch {
                throw ShunterHTTPError(answering: error)
            }
        }
    }
}
