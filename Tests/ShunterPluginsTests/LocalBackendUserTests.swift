import Foundation
import ShunterBackends
import ShunterHandlers
import Testing

@Suite("LocalBackend run_as")
struct LocalBackendUserTests {
    static let at = SourceLocation(file: "handlers/10-bash.yaml", line: 6, column: 11)

    static func handler(runAs: String) -> HandlerConfig {
        HandlerConfig(
            name: "h", plugin: "bash", backend: "local",
            options: ["local": .map([(key: "run_as", value: .string(runAs, at))], at)])
    }

    @Test("an unknown user is refused where it is written")
    func unknownUser() throws {
        let error = #expect(throws: ConfigError.self) {
            try LocalBackend(handler: Self.handler(runAs: "no-such-user-shunter"), killGrace: .seconds(1))
        }
        let message = error.map { "\($0)" } ?? ""
        #expect(
            message.hasPrefix("handlers/10-bash.yaml:6:11:") && message.contains("no-such-user-shunter"), "\(message)")
    }

    @Test("as root, run_as nobody runs the job as nobody in a directory handed to it, with the broker's umask")
    func runsAsNobody() async throws {
        try #require(geteuid() == 0, "this test needs root (scripts/test.sh runs the suite as root)")
        let backend = try LocalBackend(handler: Self.handler(runAs: "nobody"), killGrace: .seconds(1))
        let nobody = try #require(JobUser.lookUp("nobody"))
        #expect(backend.user == nobody)
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        // The job directory is made owner-only by a broker (umask 077), as the broker makes it.
        let jobDirectory = directory.path + "/job"
        try FileManager.default.createDirectory(atPath: jobDirectory + "/work", withIntermediateDirectories: true)
        chmod(directory.path, 0o700)
        chmod(jobDirectory, 0o700)
        chmod(jobDirectory + "/work", 0o700)
        try "pin\n".write(toFile: jobDirectory + "/work/a", atomically: false, encoding: .utf8)
        chmod(jobDirectory + "/work/a", 0o600)
        let execution = Execution(
            jobID: "t", handler: "h", workDirectory: jobDirectory + "/work",
            command: ["/bin/bash", "-c", "id -u > uid; id -G > groups; cat a > copy; echo x > ../marker"],
            environment: ["PATH": "/usr/bin:/bin"], stdoutPath: jobDirectory + "/stdout",
            stderrPath: jobDirectory + "/stderr")
        let outcome = try await backend.run(execution, events: ExecutionEvents())
        let stderr = (try? String(contentsOfFile: jobDirectory + "/stderr", encoding: .utf8)) ?? ""
        #expect(outcome.termination == .exited(0), "\(stderr)")
        #expect(try String(contentsOfFile: jobDirectory + "/work/uid", encoding: .utf8) == "\(nobody.uid)\n")
        #expect(try String(contentsOfFile: jobDirectory + "/work/groups", encoding: .utf8) == "\(nobody.gid)\n")
        #expect(try String(contentsOfFile: jobDirectory + "/work/copy", encoding: .utf8) == "pin\n")
        #expect(FileManager.default.fileExists(atPath: jobDirectory + "/marker"))
    }
}
