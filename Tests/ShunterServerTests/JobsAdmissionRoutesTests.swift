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
/// result store and journal, the bash plugin on the local backend): nothing a request says
/// can crash the broker.
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
            addJobserverRoutes(to: router, broker: broker, hash: .sha256)
            addJobsAPIRoutes(to: router, broker: broker, hash: .sha256)
            return Application(router: router)
        }

        func put(_ text: String) async throws -> String { try await buffers.put(Array(text.utf8), expected: nil).hex }

        /// A bash transformation echoing its pin `a` (an int), with `extra` keys merged in.
        func request(_ extra: [String: JSONValue] = [:], pinName: String = "a", tfDunder: [String: JSONValue]? = nil) async throws -> ByteBuffer {
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

        func journaledJobs() async throws -> Int { try await journal.list(JobFilter()).count }

        func remove() { try? FileManager.default.removeItem(atPath: root) }
    }

    @Test("wait?timeout= beyond any duration is a 400 naming the bound, not a crash")
    func waitTimeoutOutOfRange() async throws {
        let fixture = try await Fixture()
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

    @Test("shunter jobs wait --timeout inf is a usage error before any request")
    func waitTimeoutOutOfRangeOnTheCommandLine() throws {
        let run = try BrokerProcess.runCLI(["jobs", "wait", "--timeout", "inf", "job-1"], in: NSTemporaryDirectory())
        #expect(run.status == 64, "\(run.output)")
        #expect(run.output.contains("--timeout must be a number of seconds from 0 to 3153600000"), "\(run.output)")
    }
}
