import Hummingbird
import ShunterStore

/// The seamless-database API: `GET /` and `PUT /` with a JSON request body
/// (`{"type": ..., "checksum": ..., ...}`), answered by `SeamlessDatabaseService` with the
/// Python server's statuses and `text/plain; charset=utf-8` bodies.
///
/// - Parameters:
///   - writable: without it, `PUT /` answers 405 `ERROR: Database server is read-only`.
///   - maxRequestBytes: the largest request body (seamless-database allows 10 GB; its
///     requests are small JSON, execution records being the largest).
package func addDatabaseRoutes<Context: RequestContext>(
    to router: Router<Context>, database: SQLiteResultStore, writable: Bool = true, maxRequestBytes: Int = 256 << 20
) {
    let service = SeamlessDatabaseService(store: database, writable: writable)
    @Sendable func response(_ reply: SeamlessDatabaseService.Reply) -> Response {
        StoreRouteResponse.text(
            HTTPResponse.Status(code: reply.status), reply.body, contentType: "text/plain; charset=utf-8")
    }
    let tooLarge = StoreRouteResponse.text(
        .contentTooLarge, "ERROR: request body larger than \(maxRequestBytes) bytes",
        contentType: "text/plain; charset=utf-8")

    router.get("/") { request, _ -> Response in
        guard let body = try? await request.body.collect(upTo: maxRequestBytes) else { return tooLarge }
        return response(await service.get(Array(body.readableBytesView)))
    }
    router.put("/") { request, _ -> Response in
        guard let body = try? await request.body.collect(upTo: maxRequestBytes) else { return tooLarge }
        return response(await service.put(Array(body.readableBytesView)))
    }
}
