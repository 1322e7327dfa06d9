import Foundation
import ShunterCore
import ShunterStore
import ShunterTestSupport
import Testing

@Suite struct SQLiteResultStoreTests {
    let tf = HashAlgorithm.sha256.checksum(of: Array("transformation".utf8))
    let result = HashAlgorithm.sha256.checksum(of: Array("result".utf8))
    let other = HashAlgorithm.sha256.checksum(of: Array("other".utf8))

    @Test func resultRoundTripAndExecutionRecord() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteResultStore(path: directory + "/results.sqlite")
            #expect(try await store.result(for: tf) == nil)
            let record = ExecutionRecord(
                jobID: "job-1", handler: "bash-local", startedAt: 1000.5, finishedAt: 1002.0,
                wallTimeSeconds: 1.5, hostname: "node1")
            try await store.setResult(result, for: tf, record: record)
            #expect(try await store.result(for: tf) == result)
            #expect(try await store.executionRecord(for: tf) == record)
            #expect(try await store.transformations(producing: result) == [tf])
            let metadata = try #require(try await store.metadata(for: tf))
            #expect(metadata["schema_version"] == .int(1))
            #expect(metadata["tf_checksum"] == .string(tf.hex))
            // Setting it again keeps one reverse row.
            try await store.setResult(result, for: tf, record: nil)
            #expect(try await store.transformations(producing: result) == [tf])
        }
    }

    @Test func usesWALAndReopens() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/results.sqlite"
            do {
                let store = try SQLiteResultStore(path: path)
                try await store.setTransformationResult(result, for: tf)
            }
            #expect(
                FileManager.default.fileExists(atPath: path + "-wal") || FileManager.default.fileExists(atPath: path))
            let readOnly = try SQLiteResultStore(path: path, readOnly: true)
            #expect(try await readOnly.result(for: tf) == result)
            #expect(throws: (any Error).self) {
                try SQLiteResultStore(path: directory + "/absent.sqlite", readOnly: true)
            }
        }
    }

    @Test func concurrentWritersAndReaders() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteResultStore(path: directory + "/results.sqlite")
            let pairs = (0..<200).map { index in
                (
                    HashAlgorithm.sha256.checksum(of: Array("tf\(index)".utf8)),
                    HashAlgorithm.sha256.checksum(of: Array("r\(index)".utf8))
                )
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (transformation, value) in pairs {
                    group.addTask { try await store.setResult(value, for: transformation, record: nil) }
                    group.addTask { _ = try await store.result(for: transformation) }
                }
                try await group.waitForAll()
            }
            for (transformation, value) in pairs {
                #expect(try await store.result(for: transformation) == value)
            }
        }
    }

    @Test func irreproducibleMovesTheResultAside() async throws {
        try await withTemporaryDirectory { directory in
            let store = try SQLiteResultStore(path: directory + "/results.sqlite")
            let record: JSONValue = .object([
                "schema_version": .int(1), "tf_checksum": .string(tf.hex), "result_checksum": .string(result.hex),
                "x": .double(1.5),
            ])
            try await store.putMetadata(record, result: result, for: tf)
            #expect(try await store.result(for: tf) == result)
            await #expect(
                throws: SeamlessDatabaseError.notFound("Transformation does not have the irreproducible result")
            ) {
                try await store.markIrreproducible(tf, result: other)
            }
            try await store.markIrreproducible(tf, result: result)
            #expect(try await store.result(for: tf) == nil)
            #expect(try await store.metadata(for: tf) == nil)
            let records = try await store.irreproducibleRecords(for: tf)
            #expect(records.count == 1)
            #expect(records.first?.metadata == record)
            await #expect(throws: SeamlessDatabaseError.conflict("Transformation already has irreproducible records")) {
                try await store.putMetadata(record, result: result, for: tf)
            }
        }
    }
}
