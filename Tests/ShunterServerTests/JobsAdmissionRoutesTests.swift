import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import ShunterBackends
import ShunterBroker
import ShunterCore
import ShunterHandlers
import ShunterServer
import ShunterStore
import Testing

/// The jobserver and `/jobs` routes in process over a real broker (file buffer store, SQLite
/// result store and journal, the bash plugin on the local backend): what a client's mistakes
/// are answered, and that nothing a request says can crash the broker or reach its journal.
@Suite struct JobsAdmissionRoutesTests {
    final class Fixture: Sendable {
        let root: String
        let buffers: FileBufferStore
        let broker: Broker
        let journal: JobJournal

        init() async throws {
            root = NSTemporaryDirectory() + "shunter-admission-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            buffers = try FileBufferStore(directory: root + "/buffers")
            journal = try JobJournal(path: root + "/journal.sqlite")
            var logger = Logger(label: "test.admission")
            logger.logLevel = .warning
            let handler = HandlerConfig(
                name: "bash-local", plugin: "bash", backend: "local", match: MatchRules(languages: ["bash"]),
                limits: HandlerLimits(maxJobs: 2))
            broker = Broker(
                settings: BrokerSettings(workRoot: root + "/work", keepFailedWorkDirectories: .seconds(3600)),
                buffers: buffers, results: try SQLiteResultStore(path: root + "/results.sqlite"), journal: journal,
                handlers: try HandlerRuntime.build([handler], context: BackendContext(killGrace: .milliseconds(500))),
                logger: logger)
            try await broker.recover()
        }

        func app() -> some ApplicationProtocol {
            let router = Router()
            addJobserverRoutes(to: router, jobs: broker, hash: .sha256)
            addJobsAPIRoutes(to: router, jobs: broker, hash: .sha256)
            return Application(router: router)
        }

        func put(_ text: String) async throws -> String { try await buffers.put(Array(text.utf8), expected: nil).hex }

        /// A bash transformation echoing its pin `a` (an int), with `extra` keys merged in.
        func request(_ extra: [String: JSONValue] = [:], pinName: String = "a", tfDunder: [String: JSONValue]? = nil)
            async throws -> ByteBuffer
        {
            var dict: [String: JSONValue] = [
                "__language__": .string("bash"),
                "__output__": .array([.string("result"), .string("int"), .null]),
                "code": .array([.string("text"), .null, .string(try await put("cat a > RESULT\n"))]),
                pinName: .array([.string("int"), .null, .string(try await put("1\n"))]),
            ]
            for (key, value) in extra { dict[key] = value }
            var payload: [String: JSONValue] = ["transformation_dict": .object(dict)]
            if let tfDunder { payload["tf_dunder"] = .object(tfDunder) }
            return ByteBuffer(bytes: CanonicalJSON.encode(.object(payload)))
        }

        /// A new fixture with its broker running (`withRunningBroker`) while `body` uses it.
        static func running<T: Sendable>(_ body: (Fixture) async throws -> T) async throws -> T {
            let fixture = try await Fixture()
            return try await withRunningBroker(fixture.broker) { try await body(fixture) }
        }

        func journaledJobs() async throws -> Int { try await journal.list(JobFilter()).count }

        func remove() { try? FileManager.default.removeItem(atPath: root) }
    }

    @Test("wait?timeout= beyond any duration is a 400 naming the bound, not a crash")
    func waitTimeoutOutOfRange() async throws {
        try await Fixture.running { fixture in
            defer { fixture.remove() }
            try await fixture.app().test(.router) { client in
                for timeout in ["inf", "1e300", "9.3e18", "-1", "nan", "soon"] {
                    try await client.execute(uri: "/jobs/job-1/wait?timeout=\(timeout)", method: .get) { response in
                        #expect(response.status == .badRequest, "timeout=\(timeout)")
                        #expect(String(buffer: response.body).contains("from 0 to 3153600000"), "timeout=\(timeout)")
                    }
                }
                // In range, for a job that does not exist: the check after it still answers.
                try await client.execute(uri: "/jobs/job-1/wait?timeout=0", method: .get) { response in
                    #expect(response.status == .notFound)
                }
            }
        }
    }

    @Test("shunter jobs wait --timeout inf is a usage error before any request")
    func waitTimeoutOutOfRangeOnTheCommandLine() throws {
        let run = try BrokerProcess.runCLI(["jobs", "wait", "--timeout", "inf", "job-1"], in: NSTemporaryDirectory())
        #expect(run.status == 64, "\(run.output)")
        #expect(run.output.contains("--timeout must be a number of seconds from 0 to 3153600000"), "\(run.output)")
    }

    /// POSTs `body` to /jobs and to /run-transformation; both must answer `status` with a text
    /// containing `expected`, and nothing may be journaled.
    func expectRefused(
        _ fixture: Fixture, _ body: ByteBuffer, status: HTTPResponse.Status, _ expected: String,
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) async throws {
        try await fixture.app().test(.router) { client in
            for (uri, method) in [("/jobs", HTTPRequest.Method.post), ("/run-transformation", .get)] {
                try await client.execute(uri: uri, method: method, body: body) { response in
                    let text = String(buffer: response.body)
                    #expect(response.status == status, "\(uri): \(text)", sourceLocation: sourceLocation)
                    #expect(text.contains(expected), "\(uri): \(text)", sourceLocation: sourceLocation)
                    #expect(!text.contains("JobTraits("), "a Swift dump: \(text)", sourceLocation: sourceLocation)
                }
            }
        }
        #expect(
            try await fixture.journaledJobs() == 0, "a refused job is never journaled", sourceLocation: sourceLocation)
    }

    @Test(
        "__meta__ values out of range are a 400 before the job is journaled",
        arguments: [
            ("walltime", JSONValue.double(1e300)), ("walltime", .string("99999999999999d")),
            ("walltime", .string("999999999999999-00:00:00")), ("memory", .double(1e300)),
            ("memory", .string("99999999999T")),
            ("memory", .int(1 << 50)),
        ])
    func metaOutOfRange(key: String, value: JSONValue) async throws {
        try await Fixture.running { fixture in
            defer { fixture.remove() }
            let expected = key == "walltime" ? "at most 36500d" : "at most 1048576T"
            try await expectRefused(
                fixture, try await fixture.request(["__meta__": .object([key: value])]), status: .badRequest, expected)
            try await expectRefused(
                fixture, try await fixture.request(tfDunder: ["__meta__": .object([key: value])]), status: .badRequest,
                expected)
        }
    }

    @Test("pin names and __as__ renames that are no file in the job's directory are a 400")
    func badPinNames() async throws {
        try await Fixture.running { fixture in
            defer { fixture.remove() }
            try await expectRefused(
                fixture, try await fixture.request(pinName: "../../../x"), status: .badRequest,
                "pin '../../../x': the name cannot be a file name in the job's directory: a '..' path component is not allowed"
            )
            try await expectRefused(
                fixture, try await fixture.request(["__as__": .object(["a": .string("/etc/x")])]), status: .badRequest,
                "'__as__': pin 'a' cannot be written as '/etc/x': an absolute path is not allowed")
            try await expectRefused(
                fixture, try await fixture.request(["__as__": .object(["a": .int(3)])]), status: .badRequest,
                "'__as__': pin 'a' must be renamed to a text")
        }
    }

    @Test("an unknown celltype is a 400 naming the accepted ones")
    func unknownCelltype() async throws {
        try await Fixture.running { fixture in
            defer { fixture.remove() }
            let b = try await fixture.put("1\n")
            try await expectRefused(
                fixture, try await fixture.request(["b": .array([.string("integer"), .null, .string(b)])]),
                status: .badRequest,
                "pin 'b': unknown celltype 'integer'; expected one of: binary, mixed")
        }
    }

    @Test("a pin whose buffer is not in the store is a 422 saying to upload it")
    func missingBuffer() async throws {
        try await Fixture.running { fixture in
            defer { fixture.remove() }
            let absent = String(repeating: "ab", count: 32)
            try await expectRefused(
                fixture, try await fixture.request(["b": .array([.string("int"), .null, .string(absent)])]),
                status: .unprocessableContent,
                "pin 'b': buffer \(absent) is not in the buffer store; upload each buffer first")
        }
    }

    @Test("a language no handler runs, and a job no handler accepts, are a 422 in words")
    func noHandler() async throws {
        try await Fixture.running { fixture in
            defer { fixture.remove() }
            try await expectRefused(
                fixture, try await fixture.request(["__language__": .string("cobol")]), status: .unprocessableContent,
                "no job handler of this broker runs __language__ 'cobol'; its handlers run: bash")
            let environment = try await fixture.buffers.put(
                CanonicalJSON.encode(.object(["docker": .object(["name": .string("evil/miner:1")])])) + [10],
                expected: nil)
            try await expectRefused(
                fixture, try await fixture.request(tfDunder: ["__env__": .string(environment.hex)]),
                status: .unprocessableContent,
                "no job handler accepts this job (language bash, image evil/miner:1, no environment); each handler's reason:\n  bash-local: "
            )
        }
    }

    @Test("a job without mistakes is still accepted")
    func validJobIsAccepted() async throws {
        try await Fixture.running { fixture in
            defer { fixture.remove() }
            let body = try await fixture.request([
                "__meta__": .object(["walltime": .string("36500d"), "memory": .string("1G")])
            ])
            try await fixture.app().test(.router) { client in
                try await client.execute(uri: "/jobs", method: .post, body: body) { response in
                    #expect(response.status == .accepted, "\(String(buffer: response.body))")
                }
            }
            #expect(try await fixture.journaledJobs() == 1)
            await fixture.broker.shutdown()
        }
    }
}
