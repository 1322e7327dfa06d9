import Foundation
import ShunterCore
import ShunterStore
import ShunterTestSupport
import Testing

/// The same seamless-database requests sent to the real Python server and to
/// `SeamlessDatabaseService` get the same statuses and bodies.
@Suite(.serialized) struct SeamlessDatabaseInteropTests {
    static let tf = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    static let result = "1111111111111111111111111111111111111111111111111111111111111111"
    static let other = "2222222222222222222222222222222222222222222222222222222222222222"
    static let record =
        #"{"schema_version": 1, "tf_checksum": "\#(tf)", "result_checksum": "\#(result)", "x": 1.5, "\u00e9": [1, 2]}"#

    /// (method, body) in order; each later request sees the effects of the earlier ones.
    static let conversation: [(String, String)] = [
        ("GET", #"{"type": "protocol"}"#),
        ("GET", #"{"type": "transformation", "checksum": "\#(tf)"}"#),
        ("GET", #"{"type": "nope", "checksum": "x"}"#),
        ("GET", "notjson"),
        ("GET", #"{"type": "transformation", "checksum": "zz"}"#),
        ("GET", #"{"type": "transformation"}"#),
        ("PUT", #"{"type": "transformation", "checksum": "\#(tf)", "value": "nothex"}"#),
        ("PUT", #"{"type": "protocol"}"#),
        ("PUT", "[1]"),
        ("PUT", #"{"type": "rev_transformations", "checksum": "\#(tf)"}"#),
        ("PUT", #"{"type": "transformation", "checksum": "\#(tf)", "value": "\#(result)"}"#),
        ("GET", #"{"type": "transformation", "checksum": "\#(tf)"}"#),
        ("GET", #"{"type": "rev_transformations", "checksum": "\#(result)"}"#),
        ("PUT", #"{"type": "metadata", "checksum": "\#(tf)", "result": "\#(other)", "value": \#(record)}"#),
        ("PUT", #"{"type": "metadata", "checksum": "\#(tf)", "result": "\#(result)", "value": {"schema_version": 1}}"#),
        ("PUT", #"{"type": "metadata", "checksum": "\#(tf)", "result": "\#(result)", "value": \#(record)}"#),
        ("PUT", #"{"type": "metadata", "checksum": "\#(tf)", "result": "\#(result)", "value": \#(record)}"#),
        (
            "PUT",
            #"{"type": "metadata", "checksum": "\#(tf)", "result": "\#(result)", "value": {"schema_version": 1, "tf_checksum": "\#(tf)", "result_checksum": "\#(result)"}}"#
        ),
        ("GET", #"{"type": "metadata", "checksum": "\#(tf)"}"#),
        ("GET", #"{"type": "irreproducible", "checksum": "\#(tf)"}"#),
        ("PUT", #"{"type": "irreproducible", "checksum": "\#(tf)", "result": "\#(other)"}"#),
        ("PUT", #"{"type": "irreproducible", "checksum": "\#(tf)", "result": "\#(result)"}"#),
        ("GET", #"{"type": "irreproducible", "checksum": "\#(tf)"}"#),
        ("GET", #"{"type": "irreproducible", "checksum": "\#(tf)", "result": "\#(other)"}"#),
        ("GET", #"{"type": "transformation", "checksum": "\#(tf)"}"#),
        ("GET", #"{"type": "metadata", "checksum": "\#(tf)"}"#),
        ("PUT", #"{"type": "buffer_info", "checksum": "\#(result)", "value": {"length": 5, "is_utf8": true}}"#),
        ("PUT", #"{"type": "buffer_info", "checksum": "\#(result)", "value": {"is_json": false}}"#),
        ("PUT", #"{"type": "buffer_info", "checksum": "\#(result)", "value": {"length": -1}}"#),
        ("GET", #"{"type": "buffer_info", "checksum": "\#(result)"}"#),
        ("GET", #"{"type": "buffer_info", "checksum": "\#(other)"}"#),
        (
            "PUT",
            #"{"type": "semantic_to_syntactic", "checksum": "\#(tf)", "celltype": "python", "subcelltype": "transformer", "value": ["\#(result)", "\#(other)"]}"#
        ),
        (
            "GET",
            #"{"type": "semantic_to_syntactic", "checksum": "\#(tf)", "celltype": "python", "subcelltype": "transformer"}"#
        ),
        (
            "GET",
            #"{"type": "syntactic_to_semantic", "checksum": "\#(other)", "celltype": "python", "subcelltype": "transformer"}"#
        ),
        ("GET", #"{"type": "syntactic_to_semantic", "checksum": "\#(other)", "celltype": "python"}"#),
        (
            "PUT",
            #"{"type": "expression", "checksum": "\#(tf)", "celltype": "plain", "path": ["a", 1], "target_celltype": "int", "value": "\#(result)"}"#
        ),
        (
            "PUT",
            #"{"type": "expression", "checksum": "\#(tf)", "celltype": "int", "path": ["a"], "target_celltype": "int", "value": "\#(result)"}"#
        ),
        (
            "GET",
            #"{"type": "expression", "checksum": "\#(tf)", "celltype": "plain", "path": ["a", 1], "target_celltype": "int"}"#
        ),
        ("GET", #"{"type": "rev_expression", "checksum": "\#(result)"}"#),
        (
            "PUT",
            #"{"type": "bucket_probe", "bucket_kind": "node", "label": "n1", "bucket_checksum": "\#(other)", "freshness_tokens": {"a": 1}, "captured_at": "2026-01-01T00:00:00Z"}"#
        ),
        (
            "PUT",
            #"{"type": "bucket_probe", "bucket_kind": "planet", "label": "n1", "bucket_checksum": "\#(other)", "freshness_tokens": {}, "captured_at": "x"}"#
        ),
        ("GET", #"{"type": "bucket_probe", "bucket_kind": "node", "label": "n1"}"#),
        ("GET", #"{"type": "bucket_probe", "bucket_kind": "node", "label": "n2"}"#),
    ]

    @Test func answersAsThePythonServerDoes() async throws {
        try await withTemporaryDirectory { directory in
            let python = try await PythonServer.database(file: directory + "/python.sqlite")
            defer { python.stop() }
            let service = SeamlessDatabaseService(store: try SQLiteResultStore(path: directory + "/shunter.sqlite"))
            for (method, body) in Self.conversation {
                let (pythonBody, pythonResponse) = try await python.request(method, "/", body: Data(body.utf8))
                let expected = String(decoding: pythonBody, as: UTF8.self)
                let reply = method == "GET" ? await service.get(Array(body.utf8)) : await service.put(Array(body.utf8))
                #expect(reply.status == pythonResponse, "\(method) \(body): Python said \(pythonResponse) \(expected)")
                #expect(
                    Self.sameBody(reply.body, expected),
                    "\(method) \(body): Python said \(expected), Shunter \(reply.body)")
            }
        }
    }

    /// Same text, or the same JSON value (key order differs: Python keeps insertion order).
    static func sameBody(_ lhs: String, _ rhs: String) -> Bool {
        if lhs == rhs { return true }
        guard let left = try? JSONParser.parse(lhs), let right = try? JSONParser.parse(rhs) else { return false }
        return left == right
    }

    @Test func pythonServerReadsTheFileShunterWrote() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/results.sqlite"
            let store = try SQLiteResultStore(path: path)
            let tf = try Checksum(hex: Self.tf)
            let result = try Checksum(hex: Self.result)
            let record = ExecutionRecord(
                jobID: "j1", handler: "bash-local", startedAt: 1, finishedAt: 2, wallTimeSeconds: 1, hostname: "h")
            try await store.setResult(result, for: tf, record: record)
            // (seamless-database 2.1 cannot start read-only: its db_init passes uri= to connect())
            let python = try await PythonServer.database(file: path)
            defer { python.stop() }
            let (body, response) = try await python.request(
                "GET", "/", body: Data(#"{"type": "transformation", "checksum": "\#(Self.tf)"}"#.utf8))
            #expect(response == 200)
            #expect(String(decoding: body, as: UTF8.self) == Self.result)
            let (metadata, metadataResponse) = try await python.request(
                "GET", "/", body: Data(#"{"type": "metadata", "checksum": "\#(Self.tf)"}"#.utf8))
            #expect(metadataResponse == 200)
            let parsed = try JSONParser.parse(Array(metadata))
            #expect(parsed["shunter_job_id"] == .string("j1"))
        }
    }

    @Test func shunterReadsTheFilePythonWrote() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/results.sqlite"
            do {
                let python = try await PythonServer.database(file: path)
                defer { python.stop() }
                let (_, response) = try await python.request(
                    "PUT", "/",
                    body: Data(
                        #"{"type": "transformation", "checksum": "\#(Self.tf)", "value": "\#(Self.result)"}"#.utf8))
                #expect(response == 200)
            }
            let store = try SQLiteResultStore(path: path)
            #expect(try await store.result(for: try Checksum(hex: Self.tf)) == (try Checksum(hex: Self.result)))
        }
    }
}
