import Foundation
import Logging
import ShunterBackends
import ShunterBroker
import ShunterCore
import ShunterHandlers
import ShunterPlugins
import ShunterStore
import Testing

/// A broker on real parts in a fresh temporary directory: file buffer store, SQLite result
/// store and journal, the bash plugin on the local backend.
struct BrokerFixture {
    let root: String
    let buffers: FileBufferStore
    let results: SQLiteResultStore
    let handlers: [HandlerConfig]

    init(handlers: [HandlerConfig] = [BrokerFixture.bashHandler()], resultCommitDelay: Duration = .milliseconds(10))
        throws
    {
        root = NSTemporaryDirectory() + "shunter-broker-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        buffers = try FileBufferStore(directory: root + "/buffers")
        results = try SQLiteResultStore(path: root + "/results.sqlite", commitDelay: resultCommitDelay)
        self.handlers = handlers
    }

    static func bashHandler(name: String = "bash-local", maxJobs: Int = 8, timeout: Duration? = nil) -> HandlerConfig {
        HandlerConfig(
            name: name, plugin: "bash", backend: "local", match: MatchRules(languages: ["bash"]),
            limits: HandlerLimits(maxJobs: maxJobs, timeout: timeout))
    }

    static let quietLogger: Logger = {
        var logger = Logger(label: "test.broker")
        logger.logLevel = .warning
        return logger
    }()

    /// A new broker over the same directory, as a restarted process would open it (on
    /// `journal` when the test watches it).
    func openBroker(
        journal: JobJournal? = nil, runtimes: [HandlerRuntime]? = nil,
        configure: (inout BrokerSettings) -> Void = { _ in }
    ) async throws -> Broker {
        let journal = try journal ?? JobJournal(path: root + "/journal.sqlite")
        var settings = BrokerSettings(workRoot: root + "/work", keepFailedWorkDirectories: .seconds(3600))
        configure(&settings)
        let broker = Broker(
            settings: settings,
            buffers: buffers, results: results, journal: journal,
            handlers: try runtimes
                ?? HandlerRuntime.build(handlers, context: BackendContext(killGrace: .milliseconds(500))),
            logger: BrokerFixture.quietLogger)
        try await broker.recover()
        return broker
    }

    /// `openBroker`, with the broker running (`withRunningBroker`: its jobs and its journal's
    /// commits) while `body` uses it, and stopped gracefully after.
    func withBroker<T: Sendable>(
        journal: JobJournal? = nil, runtimes: [HandlerRuntime]? = nil,
        configure: (inout BrokerSettings) -> Void = { _ in },
        _ body: (Broker) async throws -> T
    ) async throws -> T {
        let broker = try await openBroker(journal: journal, runtimes: runtimes, configure: configure)
        return try await withRunningBroker(broker) { try await body(broker) }
    }

    func journal() throws -> JobJournal { try JobJournal(path: root + "/journal.sqlite") }

    /// Journals `tf` as a submission does, then leaves it as a killed broker would have: in
    /// `state`, on `handler`, after `attempts`.
    func journalJob(
        _ tf: Transformation, in journal: JobJournal, state: JobState = .queued, handler: String? = nil,
        attempts: Int = 0
    ) async throws -> JobID {
        let id = try await journal.insert(
            transformation: tf.checksum, language: "bash", request: JobRequest(transformation: tf).journalBytes(),
            at: Date().timeIntervalSince1970)
        var record = try #require(try await journal.record(id))
        record.state = state
        record.handler = handler
        record.attempts = attempts
        try await journal.write(.record(record), .durable)
        return id
    }

    /// Makes the `work/` of the directory job `id` runs `tf` in, as an attempt a broker was
    /// killed during leaves it; returns its path.
    func leftoverWork(of tf: Transformation, job id: JobID) throws -> String {
        let work = root + "/work/" + WorkDirectory.name(transformation: tf.checksum, jobID: id.description) + "/work"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        return work
    }

    /// A `sleep 300` working in `directory`, as a killed broker's job leaves it; returns once
    /// /proc shows where it works.
    func startSleeper(in directory: String) async throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sleep")
        process.arguments = ["300"]
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        try process.run()
        try await waitUntil {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(process.processIdentifier)/cwd"))
                != nil
        }
        return process
    }

    /// A bash transformation as the Seamless client would build it: the code as a `text` pin,
    /// each input as a pin of its celltype, buffers uploaded to the store first.
    func bash(_ code: String, inputs: [String: (Celltype, JSONValue)] = [:]) async throws -> Transformation {
        var dict: [String: JSONValue] = [
            "__language__": .string("bash"),
            "__output__": .array([.string("result"), .string("bytes"), .null]),
        ]
        dict["code"] = try await pin(.text, .string(code))
        for (name, (celltype, value)) in inputs { dict[name] = try await pin(celltype, value) }
        return try Transformation.parse(dict: dict)
    }

    private func pin(_ celltype: Celltype, _ value: JSONValue) async throws -> JSONValue {
        let checksum = try await buffers.put(try CelltypeCodec.serialize(value, as: celltype), expected: nil)
        return .array([.string(celltype.rawValue), .null, .string(checksum.hex)])
    }

    func text(of checksum: Checksum?) async throws -> String? {
        guard let checksum, let buffer = try await buffers.get(checksum) else { return nil }
        return String(decoding: buffer, as: UTF8.self)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: root)
    }
}
