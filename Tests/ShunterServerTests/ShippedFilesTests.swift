import Foundation
import ShunterHandlers
import ShunterRuntime
import ShunterServer
import Testing

/// The config and handler files shipped in the repository must load cleanly against the
/// plugins and backends this broker really has: they are what an admin starts from.
@Suite("Shipped config and handlers")
struct ShippedFilesTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    @Test("config/shunter.yaml and handlers/ load without errors and route jobs as documented")
    func shippedFilesLoad() throws {
        let root = Self.repositoryRoot
        let report = StartupValidation.check(
            configPath: "config/shunter.yaml", currentDirectory: root, environment: [:])
        #expect(report.errors.isEmpty, "\(report.errors.map(\.description))")
        let config = try #require(report.config)
        #expect(config.root == root)
        #expect(config.listen.description == "127.0.0.1:5533")
        #expect(config.store.buffers == .path("\(root)/var/buffers"))
        #expect(config.handlers == .directory("\(root)/handlers"))
        // Plain bash and Python first; handlers for images and environments follow.
        #expect(report.handlers.handlers.prefix(2).map(\.name) == ["bash-local", "python-local"])
        let matcher = HandlerMatcher(handlers: report.handlers.handlers)
        #expect(matcher.firstMatch(JobTraits(language: "bash"))?.name == "bash-local")
        #expect(matcher.firstMatch(JobTraits(language: "python"))?.name == "python-local")
        #expect(matcher.firstMatch(JobTraits(language: "python", environment: "myenv"))?.name == "python-conda")
        #expect(matcher.firstMatch(JobTraits(language: "bash", environment: "myenv"))?.name == "bash-conda")
        #expect(matcher.firstMatch(JobTraits(language: "bash", image: "ubuntu:24.04"))?.backend == "docker")
    }

    @Test("the shipped config states exactly the built-in defaults")
    func shippedConfigEqualsDefaults() throws {
        var fromFile = try BrokerConfigLoader.load(file: "\(Self.repositoryRoot)/config/shunter.yaml").get()
        fromFile.file = nil
        #expect(fromFile == BrokerConfig.defaults(root: Self.repositoryRoot))
    }
}
