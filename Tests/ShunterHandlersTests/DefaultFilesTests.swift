import Foundation
import Testing
@testable import ShunterHandlers

/// The config and handlers shipped in the repository must load cleanly: they are what an
/// admin starts from.
@Suite struct DefaultFilesTests {
    @Test func shippedConfigAndHandlersLoadWithoutErrors() throws {
        let report = CheckReport.load(configPath: "config/shunter.yaml", currentDirectory: repositoryRoot,
                                      catalog: testCatalog, environment: [:])
        #expect(report.errors.isEmpty, "\(report.errors.map(\.description))")
        let config = try #require(report.config)
        #expect(config.root == repositoryRoot)
        #expect(config.listen.description == "127.0.0.1:5533")
        #expect(config.store.buffers == .path("\(repositoryRoot)/var/buffers"))
        #expect(config.handlers == .directory("\(repositoryRoot)/handlers"))
        // Plain bash and Python first; handlers for images and environments may follow.
        #expect(report.handlers.handlers.prefix(2).map(\.name) == ["bash-local", "python-local"])
        #expect(report.handlers.handlers.prefix(2).map(\.plugin) == ["bash", "python"])
        let matcher = HandlerMatcher(handlers: report.handlers.handlers)
        #expect(matcher.firstMatch(JobTraits(language: "bash"))?.name == "bash-local")
        #expect(matcher.firstMatch(JobTraits(language: "python"))?.name == "python-local")
        #expect(matcher.firstMatch(JobTraits(language: "python", environment: "myenv"))?.name != "python-local")
        #expect(matcher.firstMatch(JobTraits(language: "bash", image: "ubuntu:24.04")) == nil)
    }

    @Test func shippedConfigEqualsTheBuiltinDefaults() throws {
        // The shipped file documents the defaults; it must not drift from them.
        var fromFile = try BrokerConfigLoader.load(file: "\(repositoryRoot)/config/shunter.yaml").get()
        fromFile.file = nil
        #expect(fromFile == BrokerConfig.defaults(root: repositoryRoot))
    }
}
