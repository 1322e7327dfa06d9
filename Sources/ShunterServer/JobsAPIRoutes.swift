import Foundation
import HTTPTypes
import Hummingbird
import ShunterBackends
import ShunterBroker
import ShunterCore

/// Shunter's own API, for what the jobserver API cannot say: submit without waiting, list and
/// inspect jobs, wait with a deadline, cancel by job id.
///
/// ```
/// POST /jobs                      submit (same body as /run-transformation) → 202 job | 200 cached
///                                 | 400 a mistake in the request | 422 nothing here can run it
/// GET  /jobs?state=&handler=&tf=&limit=&after=   newest first; a full page has a Link rel="next"
/// GET  /jobs/{id}                 one job's record
/// GET  /jobs/{id}/wait?timeout=S  the outcome once it ends (408 if still running after S)
/// POST /jobs/{id}/cancel
/// GET  /status                    broker health: load and counts
/// ```
///
/// Errors are answered by `ShunterHTTPError`: 400 for a mistake in the request, 404 for an
/// unknown job, 413 for a body too large, 422 for a job nothing here can run, 503 while the
/// broker is stopping, 507 when its disk is full, 500 for its own failures.
package func addJobsAPIRoutes<Context: RequestContext>(
    to router: Router<Context>, jobs: any JobService, hash: HashAlgorithm
) {
    router.post(
        "/jobs",
        use: ShunterHTTPError.answering { request, _ -> Response in
            let payload = try await request.collectJSON()
            let transformation = try JobserverPayload.transformation(from: payload, hash: hash)
            // The caller is told the job's id: the job must be in the journal before the answer.
            switch try await jobs.submit(transformation, durable: true) {
            case .cached(let result):
                return PlainResponse.json(
                    .object([
                        "transformation": .string(transformation.checksum.hex), "state": .string("succeeded"),
                        "result": .string(result.hex), "cached": .bool(true),
                    ]))
            case .job(let id):
                guard let record = try await jobs.record(id) else {
                    throw ShunterHTTPError.internal("job \(id) was accepted but has no record; list /jobs to find it")
                }
                return try PlainResponse.encoded(.accepted, record)
            }
        })

    router.get(
        "/jobs",
        use: ShunterHTTPError.answering { request, _ -> Response in
            let query = request.uri.queryParameters
            var filter = JobFilter()
            if let states = query.get("state") {
                filter.states = try states.split(separator: ",").map { name in
                    guard let state = JobState(rawValue: String(name)) else {
                        throw ShunterHTTPError.badRequest(
                            "unknown state '\(name)'; expected one of: "
                                + JobState.allCases.map(\.rawValue).joined(separator: ", "))
                    }
                    return state
                }
            }
            filter.handler = query.get("handler")
            if let tf = query.get("tf") {
                do { filter.transformation = try Checksum(hex: tf) } catch {
                    throw ShunterHTTPError.badRequest("tf: \(error)")
                }
            }
            if let limit = query.get("limit") {
                guard let value = Int(limit), value > 0, value <= 10_000 else {
                    throw ShunterHTTPError.badRequest("limit must be a whole number from 1 to 10000, got '\(limit)'")
                }
                filter.limit = value
            }
            if let after = query.get("after") {
                guard let id = JobID(after) else {
                    throw ShunterHTTPError.badRequest(
                        "after must be a job id (job-42 or 42), the cursor of the previous page, got '\(after)'")
                }
                filter.after = id
            }
            let page = try await jobs.list(filter)
            var response = try PlainResponse.encoded(.ok, page)
            if let next = JobsPage.next(after: page, filter: filter, query: request.uri.query) {
                response.headers[HTTPField.Name("Link")!] = "<\(next)>; rel=\"next\""
            }
            return response
        })

    router.get(
        "/jobs/:id",
        use: ShunterHTTPError.answering { _, context -> Response in
            let id = try context.jobIDParameter()
            guard let record = try await jobs.record(id) else { throw ShunterHTTPError.notFound("no job \(id)") }
            return try PlainResponse.encoded(.ok, record)
        })

    router.get(
        "/jobs/:id/wait",
        use: ShunterHTTPError.answering { request, context -> Response in
            let id = try context.jobIDParameter()
            var timeout: Duration = .seconds(3600)
            if let text = request.uri.queryParameters.get("timeout") {
                timeout = try JobsAPIQuery.waitTimeout(text)
            }
            guard try await jobs.record(id) != nil else { throw ShunterHTTPError.notFound("no job \(id)") }
            let deadline = timeout
            let outcome = try await withThrowingTaskGroup(of: JobOutcome?.self) { group in
                group.addTask { try await jobs.wait(id) }
                group.addTask {
                    try await Task.sleep(for: deadline)
                    return nil
                }
                let first = try await group.next()!
                group.cancelAll()
                return first
            }
            guard let outcome, let record = outcome.record else {
                return try PlainResponse.encoded(.requestTimeout, try await jobs.record(id))
            }
            return try PlainResponse.encoded(.ok, record)
        })

    router.post(
        "/jobs/:id/cancel",
        use: ShunterHTTPError.answering { _, context -> Response in
            let id = try context.jobIDParameter()
            guard try await jobs.record(id) != nil else { throw ShunterHTTPError.notFound("no job \(id)") }
            let cancelled = await jobs.cancel(id)
            return PlainResponse.json(.object(["job": .string(id.description), "cancelled": .bool(cancelled)]))
        })

    router.get(
        "/status",
        use: ShunterHTTPError.answering { _, _ -> Response in
            let load = await jobs.load()
            var running: [String: JSONValue] = [:]
            for (handler, count) in load.running { running[handler] = .int(Int64(count)) }
            let journal = try await jobs.journalStatistics()
            var byState: [String: JSONValue] = [:]
            for (state, count) in journal.jobsByState { byState[state.rawValue] = .int(Int64(count)) }
            return PlainResponse.json(
                .object([
                    "service": .string("shunter"), "version": .string(ShunterVersion.current),
                    "hash": .string(hash.rawValue),
                    "queued": .int(Int64(load.queued)), "running": .object(running),
                    "warm_parents": .array(WarmParents.shared.status().map(\.json)),
                    "journal": .object([
                        "jobs_by_state": .object(byState), "synced_commits": .int(Int64(journal.syncedCommits)),
                        "written_rows": .int(Int64(journal.writtenRows)),
                        "lost_writes": .int(Int64(journal.lostWrites)),
                        "synchronous": .string(journal.synchronous),
                        "wal_autocheckpoint_pages": .int(Int64(journal.autocheckpointPages)),
                    ]),
                ]))
        })
}

/// Reading the `/jobs` API's query parameters.
enum JobsAPIQuery {
    /// `timeout` of `/jobs/{id}/wait`: seconds, from 0 to `CheckedQuantity.maximumDuration`.
    static func waitTimeout(_ text: String) throws -> Duration {
        guard let seconds = Double(text), let timeout = CheckedQuantity.duration(seconds: seconds) else {
            throw ShunterHTTPError.badRequest(
                "timeout must be a number of seconds from 0 to \(CheckedQuantity.maximumDurationSeconds) "
                    + "(\(CheckedQuantity.maximumDurationText)), got '\(text)'")
        }
        return timeout
    }
}

extension RequestContext {
    func jobIDParameter() throws -> JobID {
        let text = parameters.get("id") ?? ""
        guard let id = JobID(text) else {
            throw ShunterHTTPError.badRequest("not a job id: '\(text)' (expected e.g. job-42 or 42)")
        }
        return id
    }
}

/// Paging of `GET /jobs`: a page as long as the limit may have more after it, found by asking
/// again for the jobs older than its last one.
enum JobsPage {
    /// The path and query of the next page, or nil when this one was the last.
    static func next(after page: [JobRecord], filter: JobFilter, query: String?) -> String? {
        guard page.count == filter.limit, let last = page.last else { return nil }
        var items = (query ?? "").split(separator: "&").filter { !$0.hasPrefix("after=") }.map(String.init)
        items.append("after=\(last.id)")
        return "/jobs?" + items.joined(separator: "&")
    }
}
