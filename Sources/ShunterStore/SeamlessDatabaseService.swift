import Logging
import ShunterCore

/// The seamless-database protocol (`GET /` and `PUT /` with a JSON request body), answered
/// from an `SQLiteResultStore` with the statuses and bodies the Python server gives:
/// `ERROR: Unknown key` (404) for an absent key, `ERROR: Malformed request` (400) and friends,
/// `OK` for a stored PUT, JSON (Python `json.dumps` style) for lists and objects, and a bare
/// checksum for `transformation` and `expression`.
///
/// Kept apart from the HTTP layer so the protocol can be tested without a server.
package struct SeamlessDatabaseService: Sendable {
    package struct Reply: Sendable, Equatable, CustomStringConvertible {
        package var status: Int
        package var body: String

        package init(status: Int, body: String) {
            self.status = status
            self.body = body
        }

        package var description: String { "\(status) \(body)" }
    }

    package static let protocolVersion = ["seamless", "database", "2.2"]
    /// Every request type seamless-database knows; `rev_*` and `syntactic_to_semantic` are GET only.
    package static let requestTypes: Set<String> = [
        "protocol", "buffer_info", "syntactic_to_semantic", "semantic_to_syntactic", "transformation",
        "metadata", "bucket_probe", "expression", "irreproducible", "rev_expression", "rev_transformations",
    ]

    package let store: SQLiteResultStore
    package let writable: Bool
    private let logger: Logger

    package init(store: SQLiteResultStore, writable: Bool = true, logger: Logger = Logger(label: "shunter.database")) {
        self.store = store
        self.writable = writable
        self.logger = logger
    }

    static let unknownKey = Reply(status: 404, body: "ERROR: Unknown key")
    static let ok = Reply(status: 200, body: "OK")

    static func malformed(_ message: String = "Malformed request") -> SeamlessDatabaseError {
        .malformed(message)
    }

    // MARK: - GET

    package func get(_ body: [UInt8]) async -> Reply {
        do {
            guard case .object(let request) = try? JSONParser.parse(body),
                let type = request["type"]?.stringValue, Self.requestTypes.contains(type)
            else { throw Self.malformed() }
            if type == "protocol" {
                return Reply(status: 200, body: PythonJSON.dumps(.array(Self.protocolVersion.map { .string($0) })))
            }
            if type == "bucket_probe" {
                guard let kind = request["bucket_kind"]?.stringValue, let label = request["label"]?.stringValue else {
                    throw Self.malformed("Malformed bucket_probe request")
                }
                guard let probe = try await store.bucketProbe(kind: kind, label: label) else { return Self.unknownKey }
                return json(
                    .object([
                        "bucket_kind": .string(probe.bucketKind), "label": .string(probe.label),
                        "bucket_checksum": .string(probe.bucketChecksum.hex), "captured_at": .string(probe.capturedAt),
                        "freshness_tokens": .object(probe.freshnessTokens),
                    ]))
            }
            let checksum = try Self.checksum(request["checksum"])
            return try await answerGet(type, checksum: checksum, request: request)
        } catch {
            return reply(for: error)
        }
    }

    private func answerGet(_ type: String, checksum: Checksum, request: [String: JSONValue]) async throws -> Reply {
        switch type {
        case "transformation":
            return try await store.result(for: checksum).map { Reply(status: 200, body: $0.hex) } ?? Self.unknownKey
        case "metadata":
            return try await store.metadata(for: checksum).map(json) ?? Self.unknownKey
        case "rev_transformations":
            return list(try await store.transformations(producing: checksum).map { .string($0.hex) })
        case "irreproducible":
            var result: Checksum?
            if let given = request["result"], !given.isNull {
                guard let parsed = try? Self.checksum(given) else {
                    throw Self.malformed("Malformed irreproducible request")
                }
                result = parsed
            }
            return list(
                try await store.irreproducibleRecords(for: checksum, result: result).map {
                    .object([
                        "checksum": .string($0.transformation.hex), "result": .string($0.result.hex),
                        "metadata": $0.metadata,
                    ])
                })
        case "buffer_info":
            return try await store.bufferInfo(for: checksum).map(json) ?? Self.unknownKey
        case "semantic_to_syntactic", "syntactic_to_semantic":
            let message =
                type == "semantic_to_syntactic"
                ? "Malformed semantic-to-syntactic request" : "Malformed syntactic-to-semantic request"
            guard let celltype = request["celltype"]?.stringValue, let subcelltype = request["subcelltype"]?.stringValue
            else {
                throw Self.malformed(message)
            }
            let found =
                type == "semantic_to_syntactic"
                ? try await store.syntacticChecksums(
                    forSemantic: checksum, celltype: celltype, subcelltype: subcelltype)
                : try await store.semanticChecksums(
                    forSyntactic: checksum, celltype: celltype, subcelltype: subcelltype)
            return list(found.map { .string($0.hex) })
        case "expression":
            let key = try Self.expressionKey(checksum, request)
            return try await store.expressionResult(key).map { Reply(status: 200, body: $0.hex) } ?? Self.unknownKey
        case "rev_expression":
            return list(
                try await store.expressions(producing: checksum).map {
                    .object([
                        "checksum": .string($0.input.hex), "path": $0.path, "celltype": .string($0.celltype),
                        "target_celltype": .string($0.targetCelltype), "result": .string(checksum.hex),
                    ])
                })
        default:
            throw Self.malformed("Unknown request type")
        }
    }

    // MARK: - PUT

    package func put(_ body: [UInt8]) async -> Reply {
        guard writable else { return reply(for: SeamlessDatabaseError.readOnly) }
        do {
            guard case .object(let request) = try? JSONParser.parse(body),
                let type = request["type"]?.stringValue, Self.requestTypes.contains(type)
            else { throw Self.malformed() }
            if type == "bucket_probe" {
                try await putBucketProbe(request)
                return Self.ok
            }
            let checksum = try Self.checksum(request["checksum"])
            try await answerPut(type, checksum: checksum, request: request)
            return Self.ok
        } catch {
            return reply(for: error)
        }
    }

    private func answerPut(_ type: String, checksum: Checksum, request: [String: JSONValue]) async throws {
        switch type {
        case "transformation":
            guard let value = try? Self.checksum(request["value"]) else {
                throw Self.malformed("Malformed PUT transformation result request: value must be a checksum")
            }
            try await store.setTransformationResult(value, for: checksum)
        case "metadata":
            let message = "Malformed PUT metadata request"
            guard let value = Self.objectOrJSONText(request["value"]),
                let result = try? Self.checksum(request["result"])
            else { throw Self.malformed(message) }
            try await store.putMetadata(.object(value), result: result, for: checksum)
        case "irreproducible":
            guard let result = try? Self.checksum(request["result"]) else {
                throw Self.malformed("Malformed 'irreproducible' request")
            }
            try await store.markIrreproducible(checksum, result: result)
        case "buffer_info":
            guard let value = request["value"]?.objectValue else {
                throw Self.malformed("Malformed PUT buffer info request")
            }
            try await store.mergeBufferInfo(value, for: checksum)
        case "semantic_to_syntactic":
            let message = "Malformed PUT semantic-to-syntactic request"
            guard let values = request["value"]?.arrayValue,
                let celltype = request["celltype"]?.stringValue, let subcelltype = request["subcelltype"]?.stringValue,
                let syntactic = try? values.map({ try Self.checksum($0) })
            else { throw Self.malformed(message) }
            try await store.addSemanticToSyntactic(
                semantic: checksum, celltype: celltype, subcelltype: subcelltype, syntactic: syntactic)
        case "expression":
            let key = try Self.expressionKey(checksum, request)
            guard let value = try? Self.checksum(request["value"]) else {
                throw Self.malformed("Malformed expression request")
            }
            try await store.setExpressionResult(value, for: key)
        default:
            throw Self.malformed("Unknown request type")
        }
    }

    private func putBucketProbe(_ request: [String: JSONValue]) async throws {
        guard let kind = request["bucket_kind"]?.stringValue, let label = request["label"]?.stringValue,
            let bucketChecksum = try? Self.checksum(request["bucket_checksum"]),
            let tokens = Self.objectOrJSONText(request["freshness_tokens"]),
            let capturedAt = request["captured_at"]?.stringValue
        else { throw Self.malformed("Malformed PUT bucket_probe request") }
        try await store.setBucketProbe(
            SQLiteResultStore.BucketProbe(
                bucketKind: kind, label: label, bucketChecksum: bucketChecksum, capturedAt: capturedAt,
                freshnessTokens: tokens))
    }

    // MARK: - Helpers

    static func checksum(_ value: JSONValue?) throws(SeamlessDatabaseError) -> Checksum {
        guard let text = value?.stringValue, let checksum = try? Checksum(hex: text) else { throw malformed() }
        return checksum
    }

    /// seamless-database accepts a dict, or a string holding a JSON dict.
    static func objectOrJSONText(_ value: JSONValue?) -> [String: JSONValue]? {
        if let object = value?.objectValue { return object }
        if let text = value?.stringValue, let object = (try? JSONParser.parse(text))?.objectValue { return object }
        return nil
    }

    static func expressionKey(_ checksum: Checksum, _ request: [String: JSONValue]) throws
        -> SQLiteResultStore.ExpressionKey
    {
        guard let celltype = request["celltype"]?.stringValue, let path = request["path"],
            let target = request["target_celltype"]?.stringValue
        else { throw malformed("Malformed expression request") }
        return SQLiteResultStore.ExpressionKey(input: checksum, path: path, celltype: celltype, targetCelltype: target)
    }

    private func json(_ value: JSONValue) -> Reply {
        Reply(status: 200, body: PythonJSON.dumps(value))
    }

    /// An empty list is "not known" to seamless-database.
    private func list(_ items: [JSONValue]) -> Reply {
        items.isEmpty ? Self.unknownKey : json(.array(items))
    }

    private func reply(for error: any Error) -> Reply {
        if let error = error as? SeamlessDatabaseError {
            return Reply(status: error.status, body: error.description)
        }
        logger.error("seamless-database request failed", metadata: ["error": "\(error)"])
        return Reply(status: 500, body: "ERROR: \(error)")
    }
}
