import Foundation
import ShunterCore
import ShunterStore
import ShunterTestSupport
import Testing

/// RemoteBufferStore and RemoteResultStore against the real Python hashserver and
/// seamless-database.
@Suite(.serialized) struct RemoteStoresInteropTests {
    @Test func remoteBufferStoreAgainstPythonHashserver() async throws {
        try await withTemporaryDirectory { directory in
            let buffers = directory + "/buffers"
            try FileManager.default.createDirectory(atPath: buffers, withIntermediateDirectories: true)
            let server = try await PythonServer.hashserver(directory: buffers)
            defer { server.stop() }
            let remote = RemoteBufferStore(url: server.url)
            let payload = testBytes(count: 1_500_000)
            let checksum = try await remote.put(payload, expected: nil)
            #expect(try await remote.put(payload, expected: checksum) == checksum) // 201: already there
            let empty = try await remote.put([], expected: nil)
            let absent = HashAlgorithm.sha256.checksum(of: Array("absent".utf8))
            #expect(try await remote.get(checksum) == payload)
            #expect(try await remote.get(absent) == nil)
            #expect(try await remote.length(checksum) == payload.count)
            #expect(try await remote.length(empty) == 0)
            #expect(try await remote.length(absent) == nil)
            await #expect(throws: BufferStoreError.self) {
                try await remote.put(Array("hellx".utf8), expected: checksum)
            }

            let promised = HashAlgorithm.sha256.checksum(of: Array("promised".utf8))
            try await remote.promise(promised)
            #expect(try await remote.has([checksum, promised, absent]) == [true, true, false])
            #expect(try await remote.hasNow([checksum, promised, absent]) == [true, false, false])
            let reader = Task { try await remote.get(promised) }
            try await Task.sleep(for: .milliseconds(200))
            try await remote.put(Array("promised".utf8), expected: promised)
            #expect(try await reader.value == Array("promised".utf8))

            let target = directory + "/materialized"
            try await remote.materialize(checksum, to: target)
            #expect(FileManager.default.contents(atPath: target) == Data(payload))
            await #expect(throws: BufferStoreError.self) { try await remote.materialize(absent, to: directory + "/x") }

            // What the Python server wrote is a FileBufferStore directory.
            let local = try FileBufferStore(directory: buffers)
            #expect(try await local.get(checksum) == payload)
        }
    }

    @Test func remoteResultStoreAgainstPythonDatabase() async throws {
        try await withTemporaryDirectory { directory in
            let server = try await PythonServer.database(file: directory + "/db.sqlite")
            defer { server.stop() }
            let remote = RemoteResultStore(url: server.url)
            #expect(try await remote.protocolVersion() == ["seamless", "database", "2.2"])
            let tf = HashAlgorithm.sha256.checksum(of: Array("tf".utf8))
            let result = HashAlgorithm.sha256.checksum(of: Array("result".utf8))
            #expect(try await remote.result(for: tf) == nil)
            let record = ExecutionRecord(
                jobID: "j7", handler: "bash-local", startedAt: 10, finishedAt: 12.25, wallTimeSeconds: 2.25,
                hostname: "h")
            try await remote.setResult(result, for: tf, record: record)
            #expect(try await remote.result(for: tf) == result)
            let metadata = try #require(try await remote.metadata(for: tf))
            #expect(metadata["shunter_job_id"] == .string("j7"))
            #expect(metadata["wall_time_seconds"] == .double(2.25))
            #expect(try await remote.transformations(producing: result).contains(tf))
            // Again, with a different record: the 409 is tolerated as Seamless's client does.
            var later = record
            later.jobID = "j8"
            try await remote.setResult(result, for: tf, record: later)
            #expect(try await remote.metadata(for: tf)?["shunter_job_id"] == .string("j7"))
        }
    }
}
