import Foundation
import Hummingbird
import HummingbirdTesting
import ShunterBroker
import ShunterCore
import ShunterServer
import ShunterStore
import Testing

/// The `/jobs` and jobserver routes in process over a real `Broker` (file buffer store, SQLite
/// result store and journal, real bash jobs; the fixture of `JobsAdmissionRoutesTests`): what
/// `JobRoutesTests` shows over the fake holds over the broker too.
@Suite struct JobRoutesBrokerTests {
    typealias Fixture = JobsAdmissionRoutesTests.Fixture

    /// A bash transformation running `code`, its result an int.
    static func body(_ fixture: Fixture, code: String) async throws -> ByteBuffer {
        let payload: JSONValue = .object([
            "transformation_dict": .object([
                "__language__": .string("bash"),
                "__output__": .array([.string("result"), .string("int"), .null]),
                "code": .array([.string("text"), .null, .string(try await fixture.put(code))]),
            ])
        ])
        return ByteBuffer(bytes: CanonicalJSON.encode(payload))
    }

    static func record(_ response: TestResponse) throws -> JobRecord {
        try JSONDecoder().decode(JobRecord.self, from: Data(response.body.readableBytesView))
    }

    @Test("submit, wait, record, list, then the same submission is answered from the cache")
    func submitWaitRecordList() async throws {
        try await Fixture.running { fixture in
            defer { fixture.remove() }
            let body = try await Self.body(fixture, code: "echo 42 > RESULT\n")
            try await fixture.app().test(.router) { client in
                let submitted = try await client.execute(uri: "/jobs", method: .post, body: body)
                #expect(submitted.status == .accepted, "\(String(buffer: submitted.body))")
                let job = try Self.record(submitted)

                let waited = try await client.execute(uri: "/jobs/\(job.id)/wait", method: .get)
                #expect(waited.status == .ok)
                let ended = try Self.record(waited)
                #expect(ended.state == .succeeded, "\(ended)")
                #expect(
                    try await fixture.buffers.get(try #require(ended.result)).map {
                        String(decoding: $0, as: UTF8.self)
                    } == "42\n")

                let shown = try Self.record(try await client.execute(uri: "/jobs/\(job.id)", method: .get))
                #expect(shown.state == .succeeded)
                #expect(shown.result == ended.result)

                let listed = try await client.execute(uri: "/jobs?state=succeeded", method: .get)
                let page = try JSONDecoder().decode([JobRecord].self, from: Data(listed.body.readableBytesView))
                #expect(page.map(\.id) == [job.id])

                let again = try await client.execute(uri: "/jobs", method: .post, body: body)
                #expect(again.status == .ok)
                let cached = try JSONParser.parse(Array(again.body.readableBytesView))
                #expect(cached.objectValue?["cached"]?.boolValue == true)
                #expect(cached.objectValue?["result"]?.stringValue == ended.result?.hex)
            }
            await fixture.broker.shutdown()
        }
    }

    @Test("cancel ends a running job cancelled; cancelling it again answers false")
    func cancel() async throws {
        try await Fixture.running { fixture in
            defer { fixture.remove() }
            let body = try await Self.body(fixture, code: "sleep 300\n")
            try await fixture.app().test(.router) { client in
                let job = try Self.record(try await client.execute(uri: "/jobs", method: .post, body: body))
                let cancelled = try await client.execute(uri: "/jobs/\(job.id)/cancel", method: .post)
                #expect(cancelled.status == .ok)
                #expect(String(buffer: cancelled.body) == #"{"cancelled":true,"job":"\#(job.id)"}"#)
                let waited = try await client.execute(uri: "/jobs/\(job.id)/wait", method: .get)
                #expect(try Self.record(waited).state == .cancelled)
                let again = try await client.execute(uri: "/jobs/\(job.id)/cancel", method: .post)
                #expect(String(buffer: again.body) == #"{"cancelled":false,"job":"\#(job.id)"}"#)
            }
            await fixture.broker.shutdown()
        }
    }

    @Test("an unknown job is 404 and a bad id 400, from the broker's journal")
    func unknownAndBadIDs() async throws {
        try await Fixture.running { fixture in
            defer { fixture.remove() }
            try await fixture.app().test(.router) { client in
                for (uri, method) in [
                    ("/jobs/job-404", HTTPRequest.Method.get), ("/jobs/job-404/wait", .get),
                    ("/jobs/job-404/cancel", .post),
                ] {
                    let response = try await client.execute(uri: uri, method: method)
                    #expect(response.status == .notFound, "\(uri)")
                    #expect(String(buffer: response.body) == "no job job-404", "\(uri)")
                }
                let bad = try await client.execute(uri: "/jobs/job-/wait", method: .get)
                #expect(bad.status == .badRequest)
                #expect(String(buffer: bad.body) == "not a job id: 'job-' (expected e.g. job-42 or 42)")
            }
            await fixture.broker.shutdown()
        }
    }

    @Test("a stopping broker answers 503 on /jobs and /run-transformation, and journals nothing")
    func stoppingBroker() async throws {
        try await Fixture.running { fixture in
            defer { fixture.remove() }
            let body = try await Self.body(fixture, code: "echo 1 > RESULT\n")
            await fixture.broker.shutdown()
            try await fixture.app().test(.router) { client in
                for (uri, method) in [("/jobs", HTTPRequest.Method.post), ("/run-transformation", .get)] {
                    let response = try await client.execute(uri: uri, method: method, body: body)
                    #expect(response.status == .serviceUnavailable, "\(uri)")
                    #expect(
                        String(buffer: response.body) == "the broker is shutting down and takes no new jobs", "\(uri)")
                }
            }
            #expect(try await fixture.journaledJobs() == 0)
        }
    }

    @Test("a body over the limit is 413 before the broker sees it")
    func tooLarge() async throws {
        try await Fixture.running { fixture in
            defer { fixture.remove() }
            try await fixture.app().test(.router) { client in
                let response = try await client.execute(
                    uri: "/run-transformation", method: .get,
                    body: ByteBuffer(repeating: UInt8(ascii: " "), count: (64 << 20) + 1))
                #expect(response.status == .contentTooLarge)
            }
            #expect(try await fixture.journaledJobs() == 0)
            await fixture.broker.shutdown()
        }
    }
}
