import Foundation
import Hummingbird
import ShunterBroker
import ShunterCore

/// The Seamless 1.x jobserver API (`seamless-jobserver` from the `seamless-suite` on PyPI),
/// so that an unchanged Seamless client can delegate to Shunter.
///
/// `GET /run-transformation` is a long request: it is answered when the job is done. A request
/// it cannot run is answered with the refusal's sentence as plain text: 400 for a mistake in
/// it, 409 for record mode, 422 for a job nothing here can run, 503 while the broker is
/// stopping (the client retries); a failed job is 500 with its error, as the Python jobserver
/// answers.
package func addJobserverRoutes<Context: RequestContext>(
    to router: Router<Context>, jobs: any JobService, hash: HashAlgorithm
) {
    router.get("/healthcheck") { _, _ in
        PlainResponse.text(.ok, "OK")
    }

    router.get(
        "/run-transformation",
        use: ShunterHTTPError.answering { request, _ -> Response in
            let payload = try await request.collectJSON()
            let transformation = try JobserverPayload.transformation(from: payload, hash: hash)
            let outcome: JobOutcome
            do {
                outcome = try await jobs.run(transformation)
            } catch let error as CancellationError {
                throw error
            } catch {
                // The jobserver's answer is the error's own text, whatever its status.
                throw ShunterHTTPError(ShunterHTTPError.status(of: error), "\(error)", cause: error)
            }
            switch outcome.status {
            case .succeeded:
                return PlainResponse.json(
                    .object([
                        "result_checksum": .string(outcome.result!.hex),
                        "record_runtime": JobserverPayload.recordRuntime(outcome.record),
                    ]))
            case .failed:
                return PlainResponse.text(.internalServerError, outcome.error ?? "the transformation failed")
            case .cancelled:
                // What the Python jobserver answers for a cancelled transformation.
                return PlainResponse.text(.ok, "Transformation was canceled")
            }
        })

    router.get(
        "/transformation-status/:tf",
        use: ShunterHTTPError.answering { _, context -> Response in
            let tf = try context.checksumParameter("tf")
            return PlainResponse.json(.object(["status": .string(await JobserverPayload.status(of: tf, jobs: jobs))]))
        })

    router.post(
        "/cancel-transformation/:tf",
        use: ShunterHTTPError.answering { _, context -> Response in
            let tf = try context.checksumParameter("tf")
            let cancelled = await jobs.cancel(transformation: tf)
            let status = cancelled ? "canceled" : await JobserverPayload.status(of: tf, jobs: jobs)
            return PlainResponse.json(.object(["canceled": .bool(cancelled), "status": .string(status)]))
        })
}

/// The request and response shapes of the jobserver API.
enum JobserverPayload {
    /// `{"transformation_dict": {...}, "tf_checksum": "...", "tf_dunder": {...}, "scratch": bool,
    /// "strict_dunder": bool, "record": bool}`.
    static func transformation(from payload: JSONValue, hash: HashAlgorithm) throws -> Transformation {
        guard let object = payload.objectValue else {
            throw ShunterHTTPError.badRequest("Invalid payload: expected a JSON object, got \(payload.kindName)")
        }
        guard let dict = object["transformation_dict"]?.objectValue else {
            throw ShunterHTTPError.badRequest("Invalid payload: 'transformation_dict' must be a JSON object")
        }
        var claimed: Checksum?
        if let value = object["tf_checksum"], !value.isNull {
            guard let text = value.stringValue else {
                throw ShunterHTTPError.badRequest("Invalid payload: 'tf_checksum' must be a string")
            }
            do {
                claimed = try Checksum(hex: text)
            } catch {
                throw ShunterHTTPError.badRequest("Invalid payload: tf_checksum: \(error)")
            }
        }
        if object["record"]?.boolValue == true {
            // Record mode needs the client's probe machinery; the Python jobserver answers 409
            // when its startup mode differs from the request's, and Shunter never records.
            throw ShunterHTTPError.conflict(
                "Jobserver record mode mismatch: client requested record=True, but Shunter runs with record=False")
        }
        var dunder: [String: JSONValue] = [:]
        if let value = object["tf_dunder"], !value.isNull {
            guard let tfDunder = value.objectValue else {
                throw ShunterHTTPError.badRequest("Invalid payload: 'tf_dunder' must be a JSON object")
            }
            dunder = tfDunder
        }
        do {
            return try Transformation.parse(dict: dict, dunder: dunder, hash: hash, claimedChecksum: claimed)
        } catch {
            throw ShunterHTTPError.badRequest("Invalid payload: \(error)")
        }
    }

    /// The Python jobserver's status words: `running`, `not-running`, `canceled`, `failed`.
    static func status(of tf: Checksum, jobs: any JobService) async -> String {
        if await jobs.activeJob(for: tf) != nil { return "running" }
        return "not-running"
    }

    static func recordRuntime(_ record: JobRecord?) -> JSONValue {
        guard let record, let started = record.startedAt, let finished = record.finishedAt else {
            return .null
        }
        return .object([
            "started_at": .string(isoTimestamp(started)),
            "finished_at": .string(isoTimestamp(finished)),
            "wall_time_seconds": .double(((finished - started) * 1e6).rounded() / 1e6),
            "handler": .string(record.handler ?? ""),
            "job": .string(record.id.description),
        ])
    }

    /// A value type, so one shared style serves every request (a formatter per call was a
    /// visible share of a trivial job's CPU).
    private static let isoStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    static func isoTimestamp(_ seconds: Double) -> String {
        isoStyle.format(Date(timeIntervalSince1970: seconds))
    }
}
