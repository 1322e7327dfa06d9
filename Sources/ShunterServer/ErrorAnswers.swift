import Foundation
import Hummingbird
import ShunterStore

/// Every error a route did not turn into an answer itself gets one, by `ShunterHTTPError`'s
/// mapping, with a message and (for the broker's own failures) a log line: Hummingbird would
/// answer 500 with an empty body and log nothing a user can act on. A full disk is 507
/// Insufficient Storage, saying what to free.
struct ErrorAnswerMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as any HTTPResponseError {
            throw error
        } catch let error as CancellationError {
            throw error
        } catch {
            return try ShunterHTTPError(answering: error).response(from: request, context: context)
        }
    }
}

enum ErrorAnswer {
    /// Whether `error` says a disk (or a quota) is full, whichever layer threw it.
    static func isDiskFull(_ error: any Error) -> Bool {
        if case BufferStoreError.io(_, _, let code) = error { return code == ENOSPC || code == EDQUOT }
        let nsError = error as NSError
        if nsError.domain == NSPOSIXErrorDomain { return nsError.code == Int(ENOSPC) || nsError.code == Int(EDQUOT) }
        if nsError.domain == NSCocoaErrorDomain && nsError.code == NSFileWriteOutOfSpaceError { return true }
        // SQLite's SQLITE_FULL, from the result cache.
        let text = "\(error)"
        return text.contains("database or disk is full") || text.contains("No space left on device")
    }
}
