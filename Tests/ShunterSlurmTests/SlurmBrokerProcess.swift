import Foundation
import NIOHTTP1
import ShunterCore
import ShunterTestSupport

/// The real `shunter serve` with one handler, bash on Slurm (its work directory is local: on
/// one node that is "shared"): `ServeProcess` with this suite's config and request helpers.
typealias SlurmBrokerProcess = ServeProcess

extension ServeProcess {
    convenience init(slurmYAML: String, maxJobs: Int = 1000) throws {
        try self.init(
            directoryPrefix: "shunter-slurm-broker",
            config: """
                store: {buffers: var/buffers, results: var/results.sqlite}
                journal: var/journal.sqlite
                workdir: var/work
                handlers: handlers
                log_level: notice
                """,
            handlers: [
                "40-slurm.yaml": """
                name: bash-slurm
                plugin: bash
                backend: slurm
                match: {language: bash}
                limits: {max_jobs: \(maxJobs), timeout: 5m}
                slurm: \(slurmYAML)
                """
            ])
    }

    /// Uploads the code as a text buffer and returns a `/jobs` body for a bash transformation
    /// with a `bytes` result.
    func bashJob(_ code: String) async throws -> [UInt8] {
        let checksum = try await upload(try CelltypeCodec.serialize(.string(code), as: .text))
        let dict: JSONValue = .object([
            "__language__": .string("bash"), "__output__": .array([.string("result"), .string("bytes"), .null]),
            "code": .array([.string("text"), .null, .string(checksum.hex)]),
        ])
        return CanonicalJSON.encodeCompact(.object(["transformation_dict": dict]))
    }

    /// Every journal record of a transformation.
    func records(tf: String) async throws -> [JSONValue] {
        let reply = try await send(.GET, "/jobs?tf=\(tf)")
        guard reply.status == 200, let list = try reply.json.arrayValue else {
            throw ClusterError("GET /jobs?tf=\(tf): \(reply.status) \(reply.text)")
        }
        return list
    }
}
