import Foundation
import ShunterCore
import ShunterTestSupport
import Testing

/// The real `shunter serve`, jobs asking for an inline pip-only environment over HTTP: the
/// environment is a real venv with a package from PyPI, built on first use.
@Suite("Conda environments through the server")
struct EnvironmentServerTests {
    @Test("three jobs asking at once for a new environment: one build, all run in it")
    func threeJobsOneBuild() async throws {
        let broker = try BrokerProcess(
            handlerYAML: """
                name: bash-any
                plugin: bash
                backend: local
                match: {language: bash, environment: any}
                limits: {max_jobs: 4, timeout: 5m}
                """,
            extraConfig: "environments: {managers: [venv]}")
        try await broker.start()
        defer { broker.stop() }

        // The __env__ buffer, as Seamless writes it: `plain` JSON of {"conda": environment.yml}.
        let spec: JSONValue = .object([
            "dependencies": .array([
                .string("python=3.11"), .string("pip"), .object(["pip": .array([.string("six==1.16.0")])]),
            ])
        ])
        let environment = try await broker.pin(.plain, .object(["conda": spec]))
        let environmentChecksum = try #require(environment.arrayValue?[2].stringValue)

        func request(_ index: Int) async throws -> [UInt8] {
            var dict = try JSONParser.parse(
                try await broker.bashRequest(
                    "python -c 'import six; print(six.__version__)' > RESULT; echo \(index) >> RESULT; echo \"$VIRTUAL_ENV\" >> RESULT"
                ))
            guard case .object(var outer) = dict, case .object(var inner)? = outer["transformation_dict"] else {
                throw TestFailure("unexpected request shape")
            }
            inner["__env__"] = .string(environmentChecksum)
            outer["transformation_dict"] = .object(inner)
            dict = .object(outer)
            return CanonicalJSON.encodeCompact(dict)
        }
        let replies = try await withThrowingTaskGroup(of: (Int, BrokerProcess.Reply).self) { group in
            for index in 0..<3 {
                group.addTask { (index, try await broker.get("/run-transformation", body: try await request(index))) }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        var prefixes: Set<String> = []
        for index in 0..<3 {
            let reply = try #require(replies[index])
            #expect(reply.status == 200, "job \(index): \(reply.text)")
            let result = try #require(try reply.json["result_checksum"]?.stringValue)
            let lines = try await broker.get("/" + result).text.split(separator: "\n").map(String.init)
            #expect(lines.prefix(2) == ["1.16.0", "\(index)"])
            prefixes.insert(lines.last ?? "")
        }
        #expect(prefixes.count == 1, "all three ran in one environment: \(prefixes)")

        let listing = try await broker.get("/environments").json
        #expect(listing["builds_run"] == .int(1))
        let environments = try #require(listing["environments"]?.arrayValue)
        #expect(environments.count == 1)
        #expect(environments.first?["manager"]?.stringValue == "venv")
        #expect(environments.first?["prefix"]?.stringValue == prefixes.first)
    }

    @Test("shunter env: build ahead of time, list, an unknown name, prune")
    func environmentCommand() throws {
        let directory = NSTemporaryDirectory() + "shunter-env-cli-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory + "/config", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory + "/conda-envs", withIntermediateDirectories: true)
        try "root: ..\nenvironments: {managers: [venv]}\n".write(
            toFile: directory + "/config/shunter.yaml", atomically: true, encoding: .utf8)
        try "dependencies: [python=3.11, pip, {pip: [six==1.16.0]}]\n"
            .write(toFile: directory + "/conda-envs/six.yml", atomically: true, encoding: .utf8)

        let built = try BrokerProcess.runCLI(["env", "build", "six"], in: directory)
        #expect(built.status == 0, "\(built.output)")
        let prefix = try #require(
            built.output.split(separator: "\n").first { $0.hasPrefix("six: ") }.map { String($0.dropFirst(5)) })
        #expect(FileManager.default.isExecutableFile(atPath: prefix + "/bin/python"))

        let listed = try BrokerProcess.runCLI(["env", "list"], in: directory)
        #expect(listed.output.contains("Defined in \(directory)/conda-envs: six"))
        #expect(listed.output.contains(prefix))

        let unknown = try BrokerProcess.runCLI(["env", "build", "sx"], in: directory)
        #expect(unknown.status == 4)
        #expect(unknown.output.contains("did you mean 'six'?"))

        let pruned = try BrokerProcess.runCLI(["env", "prune", "--unused-for", "0"], in: directory)
        #expect(pruned.status == 0, "\(pruned.output)")
        #expect(!FileManager.default.fileExists(atPath: prefix))
    }

    @Test("shunter check names the file, line and column of a mistake in conda-envs/")
    func checkValidatesDefinitions() throws {
        let directory = NSTemporaryDirectory() + "shunter-env-check-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for folder in ["config", "conda-envs", "handlers"] {
            try FileManager.default.createDirectory(atPath: directory + "/" + folder, withIntermediateDirectories: true)
        }
        try "root: ..\n".write(toFile: directory + "/config/shunter.yaml", atomically: true, encoding: .utf8)
        try "name: b\nplugin: bash\nbackend: local\nmatch: {language: bash, environment: any}\n"
            .write(toFile: directory + "/handlers/10-bash.yaml", atomically: true, encoding: .utf8)
        try "channels: [conda-forge]\ndependences: [numpy]\n"
            .write(toFile: directory + "/conda-envs/broken.yml", atomically: true, encoding: .utf8)
        let checked = try BrokerProcess.runCLI(["check"], in: directory)
        #expect(checked.status == 2, "\(checked.output)")
        #expect(checked.output.contains("conda-envs/broken.yml:2:1: unknown key 'dependences'"), "\(checked.output)")
        #expect(checked.output.contains("did you mean 'dependencies'"))
    }
}
