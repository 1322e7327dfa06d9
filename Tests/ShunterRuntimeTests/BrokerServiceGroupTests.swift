import Foundation
import Logging
import ServiceLifecycle
import ShunterBroker
import ShunterCore
import ShunterHandlers
import ShunterRuntime
import ShunterServer
import ShunterStore
import Testing

/// The process's services on real parts: a broker opened from a config directory with the
/// bash handler on the local backend, its SQLite journal, and the Hummingbird server on a free
/// port of 127.0.0.1.
@Suite("BrokerServiceGroup: one graceful shutdown for the broker, its chores and the server")
struct BrokerServiceGroupTests {
    struct Root {
        let path = NSTemporaryDirectory() + "shunter-runtime-\(UUID().uuidString)"

        func open() async throws -> ShunterServices {
            try FileManager.default.createDirectory(atPath: path + "/handlers", withIntermediateDirectories: true)
            try """
            name: bash-local
            plugin: bash
            backend: local
            match:
              language: bash
            """.write(toFile: path + "/handlers/bash.yaml", atomically: true, encoding: .utf8)
            let loaded = BrokerConfigLoader.resolve(explicitPath: nil, currentDirectory: path, environment: [:])
            var config = try #require(loaded.config, "\(loaded.errors)")
            config.listen = ListenAddress(host: "127.0.0.1", port: 0)
            return try await ShunterServices.open(config: config, logger: Self.logger)
        }

        func cleanUp() { try? FileManager.default.removeItem(atPath: path) }

        static let logger: Logger = {
            var logger = Logger(label: "test.runtime")
            logger.logLevel = .warning
            return logger
        }()
    }

    /// A bash transformation whose code is `code`, with its buffers in `services`' store.
    static func transformation(_ code: String, in services: ShunterServices) async throws -> Transformation {
        let codeChecksum = try await services.buffers.put(
            try CelltypeCodec.serialize(.string(code), as: .text), expected: nil)
        return try Transformation.parse(dict: [
            "__language__": .string("bash"),
            "__output__": .array([.string("result"), .string("int"), .null]),
            "code": .array([.string("text"), .null, .string(codeChecksum.hex)]),
        ])
    }

    @Test(
        "SIGTERM's graceful shutdown stops the running job and leaves it unfinished in the journal for the next start")
    func gracefulShutdown() async throws {
        let root = Root()
        defer { root.cleanUp() }
        let services = try await root.open()
        let server = ShunterApplication.make(services: services, logger: Root.logger)
        let group = BrokerServiceGroup.make(services: services, server: server, logger: Root.logger)
        let running = Task { try await group.run() }

        let marker = root.path + "/started"
        let tf = try await Self.transformation("touch \(marker); sleep 1000; echo 1 > RESULT", in: services)
        guard case .job(let id) = try await services.broker.submit(tf) else {
            Issue.record("a new transformation must become a job")
            return
        }
        while !FileManager.default.fileExists(atPath: marker) { try await Task.sleep(for: .milliseconds(10)) }

        await group.triggerGracefulShutdown()
        // `sleep 1000`: the group's end at all says the broker stopped the job.
        try await running.value

        await #expect(throws: BrokerError.self) { _ = try await services.broker.submit(tf) }
        let journal = try JobJournal(path: services.config.journal)
        let record = try #require(try await journal.record(id))
        #expect(!record.state.isTerminal, "a job stopped by a shutdown runs again at the next start: \(record.state)")
    }

    @Test("the idle exit ends the whole group by itself, broker included")
    func idleExit() async throws {
        let root = Root()
        defer { root.cleanUp() }
        let services = try await root.open()
        let activity = ActivityTracker()
        let server = ShunterApplication.make(services: services, logger: Root.logger)
        let group = BrokerServiceGroup.make(
            services: services, server: server,
            idleExit: IdleExitService(activity: activity, limit: .milliseconds(50), logger: Root.logger),
            logger: Root.logger)
        // Returns without any trigger: the idle exit's return is a graceful stop of the group.
        try await group.run()
        let tf = try await Self.transformation("echo 1 > RESULT", in: services)
        await #expect(throws: BrokerError.self) { _ = try await services.broker.submit(tf) }
    }
}
