import Foundation
import Logging
import ShunterEnvironments
import ShunterHandlers
import ShunterTestSupport
import Testing

/// micromamba, mamba and conda cannot exist on the test machines, so these run the manager
/// against a FAKE micromamba (Fakes/fake-micromamba): the command line, the log and the
/// failure message are Shunter's and are checked; the solving is not (py-rattler's tests
/// create real prefixes).
@Suite("CondaCommandManager against a FAKE micromamba")
struct CondaCommandManagerTests {
    static let fake = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fakes/fake-micromamba"

    func store(root: String, record: String) -> EnvironmentStore {
        let config = EnvironmentsConfig(
            definitions: root + "/definitions", root: root + "/envs", managers: ["micromamba"],
            channels: ["conda-forge"],
            toolsPython: "python3", executables: ["micromamba": Self.fake])
        var environment = ProcessInfo.processInfo.environment
        environment["FAKE_MICROMAMBA_RECORD"] = record
        return EnvironmentStore(
            config: config, managers: EnvironmentManagerRegistry.managers(for: config, environment: environment),
            toolEnvironment: environment, logger: Logger(label: "test"))
    }

    @Test("the spec is written as environment.yml and micromamba creates the prefix with it")
    func createsWithTheSpecFile() async throws {
        try await withTemporaryDirectory { root in
            let record = root + "/calls"
            let store = store(root: root, record: record)
            let spec = EnvironmentSpec(
                name: "tools", channels: ["conda-forge"], dependencies: ["samtools=1.19"], pip: ["six"], origin: "test")
            let ready = try await store.prepare(spec)
            #expect(ready.kind == .conda)
            let written = try String(contentsOfFile: ready.prefix + "/conda-meta/environment.yml", encoding: .utf8)
            #expect(written == spec.environmentYAML)
            #expect(written.contains("  - \"samtools=1.19\"\n  - pip:\n      - \"six\"\n"))
            let calls = try String(contentsOfFile: record, encoding: .utf8).split(separator: "\n")
            #expect(calls.count == 1)
            #expect(calls[0].hasPrefix("create --yes --prefix \(ready.prefix) --file \(root)/envs/.builds/"))
            let log = try String(contentsOfFile: "\(root)/envs/logs/\(spec.shortIdentity).log", encoding: .utf8)
            #expect(log.contains("Prefix: \(ready.prefix)"))
        }
    }

    @Test("micromamba's solver message reaches the job")
    func failureCarriesTheMessage() async throws {
        try await withTemporaryDirectory { root in
            let store = store(root: root, record: root + "/calls")
            let spec = EnvironmentSpec(
                name: "broken", channels: ["conda-forge"], dependencies: ["impossible"], origin: "test")
            do {
                _ = try await store.prepare(spec)
                Issue.record("the fake's failure was not reported")
            } catch let error as EnvironmentError {
                let text = error.description
                #expect(text.contains("building conda environment 'broken' with micromamba failed"))
                #expect(text.contains("Could not solve for environment specs"))
                #expect(text.contains("impossible   does not exist"))
            }
        }
    }
}
