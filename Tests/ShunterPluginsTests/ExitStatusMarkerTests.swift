import Foundation
import ShunterBackends
import Testing

@testable import ShunterPlugins

@Suite("the exit-status marker of local bash jobs")
struct ExitStatusMarkerTests {
    /// Runs `code` as a bash job's command with the marker, through the local backend's own
    /// spawn (signals at their defaults), in a fresh job directory; returns the directory,
    /// how the job ended and its standard error.
    static func run(_ code: String, jobID: String = "job-7") async throws -> (
        WorkDirectory, ExecutionOutcome.Termination, String
    ) {
        let directory = try TemporaryDirectory()
        let job = WorkDirectory(path: directory.path + "/d 'quoted' $x")
        try FileManager.default.createDirectory(atPath: job.workPath, withIntermediateDirectories: true)
        let command = BashJobScript.withExitStatusMarker(
            BashJobScript.command(code: code, condaEnvironment: nil, condaRoot: nil), path: job.exitStatusPath,
            jobID: jobID)
        let outcome = try await LocalBackend(killGrace: .seconds(1)).run(
            Execution(
                jobID: jobID, handler: "h", workDirectory: job.workPath, command: ["/bin/bash", "-c", command],
                environment: ["PATH": "/usr/bin:/bin"], stdoutPath: job.stdoutPath, stderrPath: job.stderrPath),
            events: ExecutionEvents())
        return (job, outcome.termination, (try? String(contentsOfFile: job.stderrPath, encoding: .utf8)) ?? "")
    }

    @Test("an ending by itself is recorded with its code; a signal records nothing; the code stays on line 3")
    func recordsOnlyOwnEndings() async throws {
        for (code, status) in [("true", Int32(0)), ("exit 3", 3), ("false", 1), ("cd /; echo done", 0)] {
            let (job, exit, _) = try await Self.run(code)
            #expect(exit == .exited(status), "\(code)")
            #expect(job.recordedExitStatus(jobID: "job-7") == status, "\(code)")
            #expect(job.recordedExitStatus(jobID: "job-8") == nil, "another job's marker is not this one's")
        }
        let (unbound, exit, stderr) = try await Self.run("echo $undefined")
        #expect(exit == .exited(1))
        #expect(stderr.contains("line 3: undefined: unbound variable"), "\(stderr)")
        #expect(unbound.recordedExitStatus(jobID: "job-7") == 1)
        for (signal, number) in [("TERM", SIGTERM), ("HUP", SIGHUP), ("INT", SIGINT)] {
            let (job, exit, _) = try await Self.run("kill -s \(signal) $$; sleep 5")
            #expect(exit == .signaled(number), "killed by \(signal): it dies by its signal as before")
            #expect(job.recordedExitStatus(jobID: "job-7") == nil, "killed by \(signal): not finished")
        }
    }

    @Test("a marker that is partial, too long or a link is not read")
    func refusesDoubtfulMarkers() throws {
        let directory = try TemporaryDirectory()
        let job = WorkDirectory(path: directory.path)
        try "job-7 0".write(toFile: job.exitStatusPath, atomically: false, encoding: .utf8)
        #expect(job.recordedExitStatus(jobID: "job-7") == nil, "no newline: the write was cut short")
        try (String(repeating: "9", count: 300) + "\n").write(
            toFile: job.exitStatusPath, atomically: false, encoding: .utf8)
        #expect(job.recordedExitStatus(jobID: "job-7") == nil)
        try FileManager.default.removeItem(atPath: job.exitStatusPath)
        try "job-7 0\n".write(toFile: directory.path + "/elsewhere", atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(
            atPath: job.exitStatusPath, withDestinationPath: directory.path + "/elsewhere")
        #expect(job.recordedExitStatus(jobID: "job-7") == nil, "a link the job made is not followed")
    }
}
