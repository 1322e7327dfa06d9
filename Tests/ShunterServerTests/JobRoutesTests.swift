import Foundation
import Hummingbird
import HummingbirdTesting
import ShunterBroker
import ShunterCore
import Testing

@testable import ShunterServer

/// The jobserver and `/jobs` routes in process, over `FakeJobService`: each status a route
/// answers, and that the routes answer it themselves (no `ErrorAnswerMiddleware` here).
@Suite struct JobRoutesTests {
    let service = FakeJobService()

    func app() -> some ApplicationProtocol {
        let router = Router()
        addJobserverRoutes(to: router, jobs: service, hash: .sha256)
        addJobsAPIRoutes(to: router, jobs: service, hash: .sha256)
        return Application(router: router)
    }

    /// A well-formed bash transformation (its buffers need not exist: the fake reads none).
    static func body(record: Bool = false, code: String = "echo 1 > RESULT") -> ByteBuffer {
        let checksum = HashAlgorithm.sha256.checksum(of: Array(code.utf8))
        var payload: [String: JSONValue] = [
            "transformation_dict": .object([
                "__language__": .string("bash"),
                "__output__": .array([.string("result"), .string("int"), .null]),
                "code": .array([.string("text"), .null, .string(checksum.hex)]),
            ])
        ]
        if record { payload["record"] = .bool(true) }
        return ByteBuffer(bytes: CanonicalJSON.encode(.object(payload)))
    }

    static func record(_ response: TestResponse) throws -> JobRecord {
        try JSONDecoder().decode(JobRecord.self, from: Data(response.body.readableBytesView))
    }

    @Test("submit, record, list, wait and cancel answer the service's jobs")
    func lifecycle() async throws {
        try await app().test(.router) { client in
            let submitted = try await client.execute(uri: "/jobs", method: .post, body: Self.body())
            #expect(submitted.status == .accepted, "\(String(buffer: submitted.body))")
            let first = try Self.record(submitted)
            #expect(first.state == .queued)

            let second = try Self.record(
                try await client.execute(uri: "/jobs", method: .post, body: Self.body(code: "echo 2 > RESULT")))

            let shown = try await client.execute(uri: "/jobs/\(first.id)", method: .get)
            #expect(shown.status == .ok)
            #expect(try Self.record(shown) == first)

            let listed = try await client.execute(uri: "/jobs?state=queued", method: .get)
            #expect(listed.status == .ok)
            let page = try JSONDecoder().decode([JobRecord].self, from: Data(listed.body.readableBytesView))
            #expect(page.map(\.id) == [second.id, first.id])

            // A full page links to the next one.
            let limited = try await client.execute(uri: "/jobs?limit=1", method: .get)
            let link = limited.headers.first { $0.name.canonicalName == "link" }?.value
            #expect(link == "</jobs?limit=1&after=\(second.id)>; rel=\"next\"")

            await service.end(first.id, .succeeded, result: first.transformation)
            let waited = try await client.execute(uri: "/jobs/\(first.id)/wait", method: .get)
            #expect(waited.status == .ok)
            #expect(try Self.record(waited).state == .succeeded)

            let cancelled = try await client.execute(uri: "/jobs/\(second.id)/cancel", method: .post)
            #expect(cancelled.status == .ok)
            #expect(String(buffer: cancelled.body) == #"{"cancelled":true,"job":"\#(second.id)"}"#)
            #expect(await service.cancelled == [second.id])
            // An ended job is not cancelled again.
            let again = try await client.execute(uri: "/jobs/\(second.id)/cancel", method: .post)
            #expect(String(buffer: again.body) == #"{"cancelled":false,"job":"\#(second.id)"}"#)
        }
    }

    @Test("wait answers 408 with the record when the job is still running at the timeout")
    func waitTimesOut() async throws {
        try await app().test(.router) { client in
            let job = try Self.record(try await client.execute(uri: "/jobs", method: .post, body: Self.body()))
            let waited = try await client.execute(uri: "/jobs/\(job.id)/wait?timeout=0", method: .get)
            #expect(waited.status == .requestTimeout)
            #expect(try Self.record(waited).state == .queued)
            #expect(await service.waiting(on: job.id) == 0, "the abandoned wait is dropped")
        }
    }

    @Test("an unknown job is 404 on every job route")
    func unknownJob() async throws {
        try await app().test(.router) { client in
            for (uri, method) in [
                ("/jobs/job-9", HTTPRequest.Method.get), ("/jobs/job-9/wait", .get), ("/jobs/9/cancel", .post),
            ] {
                let response = try await client.execute(uri: uri, method: method)
                #expect(response.status == .notFound, "\(uri)")
                #expect(String(buffer: response.body) == "no job job-9", "\(uri)")
            }
        }
    }

    @Test("a job id that is none is 400 naming the expected form")
    func badJobID() async throws {
        try await app().test(.router) { client in
            for (uri, method) in [
                ("/jobs/job-x", HTTPRequest.Method.get), ("/jobs/-3/wait", .get), ("/jobs/abc/cancel", .post),
            ] {
                let response = try await client.execute(uri: uri, method: method)
                #expect(response.status == .badRequest, "\(uri)")
                #expect(String(buffer: response.body).contains("(expected e.g. job-42 or 42)"), "\(uri)")
            }
            let after = try await client.execute(uri: "/jobs?after=yesterday", method: .get)
            #expect(after.status == .badRequest)
            #expect(String(buffer: after.body).hasPrefix("after must be a job id"))
        }
    }

    /// Both submitting routes must answer `status` with exactly `text`.
    func expectSubmissionsAnswer(
        _ status: HTTPResponse.Status, _ text: String, body: ByteBuffer = JobRoutesTests.body(),
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) async throws {
        try await app().test(.router) { client in
            for (uri, method) in [("/jobs", HTTPRequest.Method.post), ("/run-transformation", .get)] {
                let response = try await client.execute(uri: uri, method: method, body: body)
                #expect(response.status == status, "\(uri)", sourceLocation: sourceLocation)
                #expect(String(buffer: response.body) == text, "\(uri)", sourceLocation: sourceLocation)
            }
        }
    }

    @Test("a stopping service is 503 with its sentence, on /jobs and /run-transformation")
    func stopping() async throws {
        await service.refuse(with: BrokerError.shuttingDown)
        try await expectSubmissionsAnswer(.serviceUnavailable, "the broker is shutting down and takes no new jobs")
    }

    @Test("a refusal is 400 when the request is wrong, 422 when nothing here can run it")
    func refusals() async throws {
        await service.refuse(with: AdmissionRefusal(.invalid, "pin 'b': unknown celltype 'integer'"))
        try await expectSubmissionsAnswer(.badRequest, "pin 'b': unknown celltype 'integer'")
        await service.refuse(
            with: AdmissionRefusal(.unrunnable, "no job handler of this broker runs __language__ 'cobol'"))
        try await expectSubmissionsAnswer(
            .unprocessableContent, "no job handler of this broker runs __language__ 'cobol'")
    }

    @Test("record mode is 409 with the Python jobserver's sentence")
    func recordMode() async throws {
        try await expectSubmissionsAnswer(
            .conflict,
            "Jobserver record mode mismatch: client requested record=True, but Shunter runs with record=False",
            body: Self.body(record: true))
    }

    @Test("a body larger than the routes take is 413, declared or sent")
    func tooLarge() async throws {
        let limit = 64 << 20
        try await app().test(.router) { client in
            let sent = try await client.execute(
                uri: "/jobs", method: .post, body: ByteBuffer(repeating: UInt8(ascii: " "), count: limit + 1))
            #expect(sent.status == .contentTooLarge)
            #expect(
                String(buffer: sent.body).contains("larger than the \(limit) bytes this route takes"),
                "\(String(buffer: sent.body))")
        }
        // Refused from the header alone, before any of the body is read.
        let router = Router()
        router.post("/small") { request, _ -> Response in
            _ = try await request.collectBytes(upTo: 10)
            return Response(status: .ok)
        }
        try await Application(router: router).test(.router) { client in
            let declared = try await client.execute(
                uri: "/small", method: .post, headers: [.contentLength: "11"], body: ByteBuffer(string: "12345678901"))
            #expect(declared.status == .contentTooLarge)
            #expect(
                String(buffer: declared.body) == "request body of 11 bytes is larger than the 10 bytes this route takes"
            )
        }
    }

    @Test("a full disk is 507 saying what to free; the jobserver route keeps the bare error text")
    func fullDisk() async throws {
        let full = POSIXError(.ENOSPC)
        await service.refuse(with: full)
        try await app().test(.router) { client in
            let jobs = try await client.execute(uri: "/jobs", method: .post, body: Self.body())
            #expect(jobs.status.code == 507)
            #expect(String(buffer: jobs.body).hasPrefix("the broker's disk is full: "))
            #expect(String(buffer: jobs.body).contains("Free disk space"))
            let run = try await client.execute(uri: "/run-transformation", method: .get, body: Self.body())
            #expect(run.status.code == 507)
            #expect(String(buffer: run.body) == "\(full)")
        }
    }

    @Test("a failure of the service itself is 500 saying it, never an empty answer")
    func internalFailure() async throws {
        struct JournalBroken: Error, CustomStringConvertible { var description: String { "the journal is unreadable" } }
        await service.failReads(with: JournalBroken())
        try await app().test(.router) { client in
            for uri in ["/jobs", "/jobs/job-1"] {
                let response = try await client.execute(uri: uri, method: .get)
                #expect(response.status == .internalServerError, "\(uri)")
                #expect(
                    String(buffer: response.body) == "the broker could not answer: the journal is unreadable\n",
                    "\(uri)")
            }
        }
        await service.failReads(with: nil)
        await service.refuse(with: JournalBroken())
        try await app().test(.router) { client in
            // The jobserver protocol's answer: the error's text, as the Python jobserver gives it.
            let run = try await client.execute(uri: "/run-transformation", method: .get, body: Self.body())
            #expect(run.status == .internalServerError)
            #expect(String(buffer: run.body) == "the journal is unreadable")
        }
    }

    @Test("the jobserver routes answer from the service: run, status, cancel")
    func jobserverRoutes() async throws {
        try await app().test(.router) { client in
            let run = try await client.execute(uri: "/run-transformation", method: .get, body: Self.body())
            #expect(run.status == .ok)
            let tf = HashAlgorithm.sha256.checksum(of: Array("x".utf8))
            let status = try await client.execute(uri: "/transformation-status/\(tf.hex)", method: .get)
            #expect(String(buffer: status.body) == #"{"status":"not-running"}"#)
            let cancel = try await client.execute(uri: "/cancel-transformation/\(tf.hex)", method: .post)
            #expect(String(buffer: cancel.body) == #"{"canceled":false,"status":"not-running"}"#)
            let bad = try await client.execute(uri: "/transformation-status/xyz", method: .get)
            #expect(bad.status == .badRequest)
        }
    }
}
