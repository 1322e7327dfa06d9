import Foundation
import Logging
import Testing

@testable import ShunterBackends

/// The one-node Slurm cluster the tests run against (`scripts/start-slurm-for-tests.sh`, which
/// scripts/test.sh calls). Tests FAIL, saying how to get it, when it does not answer.
enum SlurmCluster {
    static let howToGetIt =
        "start the test cluster first: `sudo scripts/start-slurm-for-tests.sh` (scripts/test.sh does it; needs root on Debian)"

    /// Runs a Slurm (or any) command and returns its standard output; throws with its stderr.
    @discardableResult
    static func command(_ tool: String, _ arguments: [String]) async throws -> String {
        let result = try await SlurmCommandRunner(binDirectory: nil, timeout: .seconds(30)).run(tool, arguments)
        guard result.succeeded else {
            throw ClusterError("\(tool) \(arguments.joined(separator: " ")) failed: \(result.message)")
        }
        return result.stdout
    }

    /// Fails the test unless the controller answers and the node takes jobs.
    static func require() async throws {
        let nodes: String
        do {
            nodes = try await command("sinfo", ["--noheader", "--format=%T"])
        } catch {
            throw ClusterError("no Slurm cluster answers (\(error)); \(howToGetIt)")
        }
        guard
            nodes.split(separator: "\n").contains(where: {
                ["idle", "mixed", "allocated", "completing"].contains($0.trimmingCharacters(in: .whitespaces))
            })
        else {
            throw ClusterError(
                "the Slurm node is not usable (sinfo: \(nodes.trimmingCharacters(in: .whitespacesAndNewlines))); \(howToGetIt)"
            )
        }
    }

    /// Every job of this user that Slurm still lists (pending, running, and ended within MinJobAge).
    static func jobs() async throws -> [SlurmJobStatus] {
        try await command("squeue", ["--me", "--noheader", "--states=all", "--Format=\(SlurmJobStatus.squeueFormat)"])
            .split(separator: "\n").compactMap { SlurmJobStatus(squeueLine: $0) }
    }

    static func job(_ id: String) async throws -> SlurmJobStatus? {
        try await jobs().first { $0.jobID == id }
    }

    /// Waits until Slurm lists no pending or running job whose name starts with `prefix`.
    static func waitUntilIdle(namePrefix prefix: String, timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await !jobs().contains(where: { $0.name.hasPrefix(prefix) && !$0.isTerminal }) { return }
            try await Task.sleep(for: .milliseconds(300))
        }
        throw ClusterError("Slurm jobs named \(prefix)* still run after \(timeout)")
    }

    static func fastOptions(_ change: (inout SlurmOptions) -> Void = { _ in }) -> SlurmOptions {
        var options = SlurmOptions(
            pollInterval: .milliseconds(250), maxPollInterval: .seconds(2), markerWait: .seconds(5))
        change(&options)
        return options
    }
}

struct ClusterError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A job directory as the plugins lay it out: `<root>/<name>/{work/, stdout, stderr}`.
struct SlurmTestJob {
    let root: String
    let name: String
    var directory: String { root + "/" + name }

    init(root: String, name: String = "test\(UUID().uuidString.prefix(8).lowercased())-\(Int.random(in: 1...999_999))")
        throws
    {
        self.root = root
        self.name = name
        try FileManager.default.createDirectory(atPath: directory + "/work", withIntermediateDirectories: true)
    }

    func execution(
        _ script: String, timeout: Duration? = nil, resources: ResourceRequest = ResourceRequest(),
        environment: [String: String] = ["PATH": "/usr/bin:/bin"]
    ) -> Execution {
        Execution(
            jobID: name, handler: "slurm-test", workDirectory: directory + "/work",
            command: ["/bin/bash", "-c", script],
            environment: environment, timeout: timeout, resources: resources,
            stdoutPath: directory + "/stdout", stderrPath: directory + "/stderr")
    }

    func read(_ relative: String) -> String? {
        try? String(contentsOfFile: directory + "/" + relative, encoding: .utf8)
    }
}

/// Collects the ids a backend reports through `events.started`.
actor StartedIDs {
    private(set) var ids: [String] = []
    func add(_ id: String) { ids.append(id) }
    nonisolated var events: ExecutionEvents { ExecutionEvents(started: { id in await self.add(id) }) }
}

func withTestRoot<T>(_ body: (String) async throws -> T) async throws -> T {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
        "shunter-slurm-\(UUID().uuidString.prefix(8))"
    ).path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

/// Every test that uses the cluster, one at a time: they share one node, and the outage test
/// stops its controller.
@Suite(.serialized) enum SlurmClusterTests {}
