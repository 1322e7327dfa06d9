import Dispatch
import Foundation
import GRDB
import Logging
import ShunterCore

/// The embedded result cache, in an SQLite file with seamless-database's own schema.
///
/// The tables are exactly those that seamless-database (peewee) creates, so the Python server
/// can serve a file Shunter wrote and the other way round. The file is in WAL mode: readers
/// never wait for the writer, and GRDB's pool serialises the writes.
///
/// Results that jobs store (`setResult`) are committed in batches, at most `commitDelay`
/// after they arrive; until then this store answers for them from memory, so its own readers
/// never miss one. Another process reading the file sees them that much later, and a crash in
/// that window loses them from the cache only (the job's end is in the broker's journal, the
/// buffer in the buffer store): the transformation then runs again when next asked for.
package final class SQLiteResultStore: ResultStore, Sendable {
    package let path: String
    private let pool: DatabasePool
    /// Checkpoints off the committing threads (the event loops); nil when read-only.
    private let checkpointer: WALCheckpointer?
    private let readOnly: Bool
    private let pending = PendingResults()
    /// How long a stored result may wait for the commit it shares with the next ones.
    package let commitDelay: Duration
    /// Where the batched commits run: off the event loops, like the checkpoints.
    private let commitQueue: DispatchQueue
    private let logger: Logger?

    /// Kinds of bucket that seamless-database accepts in `bucket_probe` requests.
    package static let bucketKinds: Set<String> = ["node", "environment", "node_env", "queue", "queue_node"]

    /// Opens (creating when writable) the database file at `path`. `logger` hears of batched
    /// commits that failed (they are tried again a second later).
    package init(
        path: String, readOnly: Bool = false, commitDelay: Duration = .milliseconds(10), logger: Logger? = nil
    ) throws {
        var configuration = Configuration()
        configuration.readonly = readOnly
        configuration.busyMode = .timeout(10)
        configuration.label = "shunter.results"
        if !readOnly {
            let parent = (path as NSString).deletingLastPathComponent
            if !parent.isEmpty {
                try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
            }
        } else if !FileManager.default.fileExists(atPath: path) {
            throw SeamlessDatabaseError.malformed("database file '\(path)' must exist when opened read-only")
        }
        self.path = path
        self.readOnly = readOnly
        self.commitDelay = commitDelay
        self.logger = logger
        commitQueue = DispatchQueue(label: "shunter.results.commit")
        self.pool = try DatabasePool(path: path, configuration: configuration)
        if readOnly {
            checkpointer = nil
        } else {
            try pool.write { db in try Self.createTables(db) }
            checkpointer = try WALCheckpointer.attach(to: pool, label: "shunter.results")
        }
    }

    /// peewee's DDL for seamless-database's models, verbatim.
    static func createTables(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE IF NOT EXISTS "transformation" ("checksum" CHAR(64) NOT NULL PRIMARY KEY, "result" CHAR(64) NOT NULL);
                CREATE INDEX IF NOT EXISTS "transformation_result" ON "transformation" ("result");
                CREATE TABLE IF NOT EXISTS "rev_transformation" ("id" INTEGER NOT NULL PRIMARY KEY, "result" CHAR(64) NOT NULL, "checksum" CHAR(64) NOT NULL);
                CREATE INDEX IF NOT EXISTS "rev_transformation_result" ON "rev_transformation" ("result");
                CREATE TABLE IF NOT EXISTS "buffer_info" ("checksum" CHAR(64) NOT NULL PRIMARY KEY, "buffer_info" TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS "syntactic_to_semantic" ("syntactic" CHAR(64) NOT NULL, "celltype" TEXT NOT NULL, "subcelltype" TEXT NOT NULL, "semantic" CHAR(64) NOT NULL, PRIMARY KEY ("syntactic", "celltype", "subcelltype", "semantic"));
                CREATE INDEX IF NOT EXISTS "syntactic_to_semantic_syntactic" ON "syntactic_to_semantic" ("syntactic");
                CREATE INDEX IF NOT EXISTS "syntactic_to_semantic_semantic" ON "syntactic_to_semantic" ("semantic");
                CREATE TABLE IF NOT EXISTS "expression" ("input_checksum" CHAR(64) NOT NULL, "path" VARCHAR(100) NOT NULL, "celltype" VARCHAR(20) NOT NULL, "target_celltype" VARCHAR(20) NOT NULL, "validator" CHAR(64), "validator_language" VARCHAR(20), "result" CHAR(64) NOT NULL, PRIMARY KEY ("input_checksum", "path", "celltype", "target_celltype"));
                CREATE INDEX IF NOT EXISTS "expression_result" ON "expression" ("result");
                CREATE TABLE IF NOT EXISTS "meta_data" ("checksum" CHAR(64) NOT NULL PRIMARY KEY, "result" CHAR(64) NOT NULL, "metadata" TEXT NOT NULL);
                CREATE INDEX IF NOT EXISTS "meta_data_result" ON "meta_data" ("result");
                CREATE TABLE IF NOT EXISTS "bucket_probe" ("bucket_kind" VARCHAR(20) NOT NULL, "label" TEXT NOT NULL, "bucket_checksum" CHAR(64) NOT NULL, "captured_at" TEXT NOT NULL, "freshness_tokens" TEXT NOT NULL, PRIMARY KEY ("bucket_kind", "label"));
                CREATE INDEX IF NOT EXISTS "bucket_probe_bucket_checksum" ON "bucket_probe" ("bucket_checksum");
                CREATE TABLE IF NOT EXISTS "irreproducible_transformation" ("id" INTEGER NOT NULL PRIMARY KEY, "result" CHAR(64) NOT NULL, "checksum" CHAR(64) NOT NULL, "metadata" TEXT NOT NULL);
                CREATE INDEX IF NOT EXISTS "irreproducible_transformation_result" ON "irreproducible_transformation" ("result");
                CREATE INDEX IF NOT EXISTS "irreproducible_transformation_checksum" ON "irreproducible_transformation" ("checksum");
                """)
    }

    // MARK: - ResultStore

    /// Synchronous GRDB calls here and in `setResult`, which every job makes: an async one
    /// hops to GRDB's dispatch queue and back (two thread wake-ups), a synchronous one runs on
    /// the caller's thread for the few microseconds the statement takes.
    package func result(for transformation: Checksum) async throws -> Checksum? {
        if let row = pending.row(for: transformation) { return row.result }
        return try readNow { db in try Self.transformationResult(db, transformation) }
    }

    /// GRDB's synchronous read (in an async function the async overload would be chosen),
    /// outside a transaction: the lookup is one SELECT, which SQLite runs on one snapshot
    /// anyway, and `read` would wrap it in a BEGIN and a COMMIT, two more statements for every
    /// request and every cache hit.
    private func readNow<T>(_ body: (Database) throws -> T) throws -> T {
        try pool.unsafeRead(body)
    }

    /// The writer's `wal_autocheckpoint` (the checkpointer's backstop; SQLite's default is 1 000).
    package func writerAutocheckpointPages() throws -> Int {
        try WALCheckpointer.writerAutocheckpointPages(of: pool)
    }

    /// Every write of the cache goes through this or `write`, so that the checkpointer counts
    /// its commits, and so that the pending results go first, in the same transaction: a
    /// write never overtakes a result stored before it.
    private func writeNow<T>(_ body: (Database) throws -> T) throws -> T {
        var written: [PendingResults.Row] = []
        let result = try pool.write { db in
            written = pending.snapshot()
            try Self.insert(written, db)
            return try body(db)
        }
        pending.committed(written)
        checkpointer?.noteCommit()
        return result
    }

    private func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let (written, result) = try await pool.write { [pending] db in
            let rows = pending.snapshot()
            try Self.insert(rows, db)
            return (rows, try body(db))
        }
        pending.committed(written)
        checkpointer?.noteCommit()
        return result
    }

    /// Records the result, and the execution record as a Seamless-shaped metadata row
    /// (`schema_version` 1, so that Seamless clients asking for `metadata` can read it).
    /// Returns before the commit: see the type's comment.
    package func setResult(_ result: Checksum, for transformation: Checksum, record: ExecutionRecord?) async throws {
        if readOnly { throw SeamlessDatabaseError.readOnly }
        let metadata = record.map { Self.seamlessMetadata(for: $0, transformation: transformation, result: result) }
        if pending.add(result, for: transformation, metadata: metadata) {
            scheduleCommit(after: commitDelay)
        }
    }

    /// Commits the results stored so far now (at a graceful stop).
    package func commitPending() async throws {
        try commitPendingNow()
    }

    private func commitPendingNow() throws {
        guard !pending.isEmpty else { return }
        try writeNow { _ in }
    }

    private func scheduleCommit(after delay: Duration) {
        let (seconds, attoseconds) = delay.components
        let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
        commitQueue.asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) { [self] in
            pending.startScheduledCommit()
            do {
                try commitPendingNow()
            } catch {
                // The rows stay pending, and visible to this store's readers.
                logger?.error(
                    "could not commit stored results; trying again in a second", metadata: ["error": "\(error)"])
                if pending.claimCommitSchedule() { scheduleCommit(after: .seconds(1)) }
            }
        }
    }

    static func insert(_ rows: [PendingResults.Row], _ db: Database) throws {
        for row in rows {
            try upsertTransformation(db, row.transformation, result: row.result)
            if let metadata = row.metadata {
                try db.cachedStatement(
                    sql: "INSERT OR REPLACE INTO meta_data (checksum, result, metadata) VALUES (?, ?, ?)"
                )
                .execute(arguments: [row.transformation.hex, row.result.hex, PythonJSON.dumps(metadata)])
            }
        }
    }

    static func seamlessMetadata(for record: ExecutionRecord, transformation: Checksum, result: Checksum) -> JSONValue {
        .object([
            "schema_version": .int(1),
            "tf_checksum": .string(transformation.hex),
            "result_checksum": .string(result.hex),
            "execution_mode": .string("shunter"),
            "started_at": .double(record.startedAt),
            "finished_at": .double(record.finishedAt),
            "wall_time_seconds": .double(record.wallTimeSeconds),
            "hostname": .string(record.hostname),
            "shunter_job_id": .string(record.jobID),
            "shunter_handler": .string(record.handler),
        ])
    }

    /// The Shunter execution record kept for a transformation, when Shunter wrote it.
    package func executionRecord(for transformation: Checksum) async throws -> ExecutionRecord? {
        guard let metadata = try await metadata(for: transformation),
            let jobID = metadata["shunter_job_id"]?.stringValue,
            let handler = metadata["shunter_handler"]?.stringValue
        else { return nil }
        func number(_ key: String) -> Double {
            switch metadata[key] {
            case .double(let value): value
            case .int(let value): Double(value)
            default: 0
            }
        }
        return ExecutionRecord(
            jobID: jobID, handler: handler, startedAt: number("started_at"), finishedAt: number("finished_at"),
            wallTimeSeconds: number("wall_time_seconds"), hostname: metadata["hostname"]?.stringValue ?? "")
    }

    // MARK: - transformation, rev_transformations

    /// `PUT {"type": "transformation"}`: sets (or replaces) the result.
    package func setTransformationResult(_ result: Checksum, for transformation: Checksum) async throws {
        try await write { db in try Self.upsertTransformation(db, transformation, result: result) }
    }

    /// `GET {"type": "rev_transformations"}`: the transformations known to give `result`.
    package func transformations(producing result: Checksum) async throws -> [Checksum] {
        // The reverse rows' order is their insertion order: pending results get theirs first.
        try commitPendingNow()
        return try await pool.read { db in
            try String.fetchAll(
                db, sql: "SELECT checksum FROM rev_transformation WHERE result = ? ORDER BY id", arguments: [result.hex]
            )
            .compactMap { try? Checksum(hex: $0) }
        }
    }

    // The statements of every cache lookup and every stored result are compiled once per
    // connection (`cachedStatement`), not parsed and authorized again on each call.

    static func transformationResult(_ db: Database, _ transformation: Checksum) throws -> Checksum? {
        let statement = try db.cachedStatement(sql: "SELECT result FROM transformation WHERE checksum = ?")
        return try String.fetchOne(statement, arguments: [transformation.hex]).flatMap { try? Checksum(hex: $0) }
    }

    /// Unlike seamless-database, which adds a reverse row on every PUT (so repeated PUTs list a
    /// transformation repeatedly), the reverse row is added once.
    static func upsertTransformation(_ db: Database, _ transformation: Checksum, result: Checksum) throws {
        try db.cachedStatement(sql: "INSERT OR REPLACE INTO transformation (checksum, result) VALUES (?, ?)")
            .execute(arguments: [transformation.hex, result.hex])
        try ensureReverse(db, transformation, result: result)
    }

    /// One statement, not a lookup and then an insert: it runs for every stored result.
    static func ensureReverse(_ db: Database, _ transformation: Checksum, result: Checksum) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO rev_transformation (result, checksum) SELECT ?1, ?2
                WHERE NOT EXISTS (SELECT 1 FROM rev_transformation WHERE result = ?1 AND checksum = ?2)
                """
        ).execute(arguments: [result.hex, transformation.hex])
    }

    // MARK: - metadata (execution records)

    /// `GET {"type": "metadata"}`: the execution record, as stored.
    package func metadata(for transformation: Checksum) async throws -> JSONValue? {
        if let metadata = pending.row(for: transformation)?.metadata { return metadata }
        return try await pool.read { db in try Self.metadataRow(db, transformation)?.metadata }
    }

    static func metadataRow(_ db: Database, _ transformation: Checksum) throws -> (result: String, metadata: JSONValue)?
    {
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT result, metadata FROM meta_data WHERE checksum = ?", arguments: [transformation.hex])
        else { return nil }
        let text: String = row["metadata"]
        return (row["result"], (try? JSONParser.parse(text)) ?? .string(text))
    }

    /// `PUT {"type": "metadata"}`, with seamless-database's checks: the record must name this
    /// transformation and result, and may not contradict what is stored.
    package func putMetadata(_ record: JSONValue, result: Checksum, for transformation: Checksum) async throws {
        guard case .object(let fields) = record,
            case .int = fields["schema_version"],
            fields["tf_checksum"] == .string(transformation.hex),
            fields["result_checksum"] == .string(result.hex)
        else { throw SeamlessDatabaseError.malformed("Malformed PUT metadata request") }
        if let checksumFields = fields["checksum_fields"], !checksumFields.isNull {
            guard let list = checksumFields.arrayValue,
                list.allSatisfy({ ($0.stringValue?.isEmpty == false) })
            else { throw SeamlessDatabaseError.malformed("Malformed PUT metadata request") }
        }
        try await write { db in
            if try Self.irreproducibleExists(db, transformation) {
                throw SeamlessDatabaseError.conflict("Transformation already has irreproducible records")
            }
            let known = try Self.transformationResult(db, transformation)
            if let known, known != result {
                throw SeamlessDatabaseError.conflict("Transformation result does not match execution record result")
            }
            if let stored = try Self.metadataRow(db, transformation) {
                if stored.result != result.hex {
                    throw SeamlessDatabaseError.conflict(
                        "Execution record result does not match stored metadata result")
                }
                if stored.metadata != record {
                    throw SeamlessDatabaseError.conflict("Execution record already exists with different metadata")
                }
            } else {
                try db.execute(
                    sql: "INSERT INTO meta_data (checksum, result, metadata) VALUES (?, ?, ?)",
                    arguments: [transformation.hex, result.hex, PythonJSON.dumps(record)])
            }
            if known == nil {
                try db.execute(
                    sql: "INSERT OR REPLACE INTO transformation (checksum, result) VALUES (?, ?)",
                    arguments: [transformation.hex, result.hex])
            }
            try Self.ensureReverse(db, transformation, result: result)
        }
    }

    // MARK: - irreproducible

    package struct IrreproducibleRecord: Sendable, Hashable {
        package var transformation: Checksum
        package var result: Checksum
        /// The execution record that was stored when the result was contested, or "".
        package var metadata: JSONValue
    }

    static func irreproducibleExists(_ db: Database, _ transformation: Checksum) throws -> Bool {
        try Bool.fetchOne(
            db, sql: "SELECT EXISTS(SELECT 1 FROM irreproducible_transformation WHERE checksum = ?)",
            arguments: [transformation.hex]) ?? false
    }

    /// `GET {"type": "irreproducible"}`.
    package func irreproducibleRecords(for transformation: Checksum, result: Checksum? = nil) async throws
        -> [IrreproducibleRecord]
    {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql:
                    "SELECT checksum, result, metadata FROM irreproducible_transformation WHERE checksum = ? ORDER BY id",
                arguments: [transformation.hex]
            ).compactMap { row -> IrreproducibleRecord? in
                guard let tf = try? Checksum(hex: row["checksum"] as String),
                    let rs = try? Checksum(hex: row["result"] as String)
                else { return nil }
                if let result, rs != result { return nil }
                let text: String = row["metadata"]
                return IrreproducibleRecord(
                    transformation: tf, result: rs, metadata: (try? JSONParser.parse(text)) ?? .string(text))
            }
        }
    }

    /// `PUT {"type": "irreproducible"}`: contests a result. The cached result and its
    /// execution record are moved aside, so the transformation runs again.
    package func markIrreproducible(_ transformation: Checksum, result: Checksum) async throws {
        try await write { db in
            let known = try Self.transformationResult(db, transformation)
            if let known, known != result {
                throw SeamlessDatabaseError.notFound("Transformation does not have the irreproducible result")
            }
            let stored = try Self.metadataRow(db, transformation)
            if let stored, stored.result != result.hex {
                throw SeamlessDatabaseError.conflict("Stored metadata result does not match irreproducible result")
            }
            try db.execute(
                sql: "INSERT INTO irreproducible_transformation (result, checksum, metadata) VALUES (?, ?, ?)",
                arguments: [result.hex, transformation.hex, PythonJSON.dumps(stored?.metadata ?? .string(""))])
            if known != nil {
                try db.execute(sql: "DELETE FROM transformation WHERE checksum = ?", arguments: [transformation.hex])
                try db.execute(
                    sql: "DELETE FROM rev_transformation WHERE checksum = ? AND result = ?",
                    arguments: [transformation.hex, result.hex])
            }
            if stored != nil {
                try db.execute(sql: "DELETE FROM meta_data WHERE checksum = ?", arguments: [transformation.hex])
            }
        }
    }

    // MARK: - buffer_info

    /// `GET {"type": "buffer_info"}`.
    package func bufferInfo(for checksum: Checksum) async throws -> JSONValue? {
        try await pool.read { db in
            try String.fetchOne(
                db, sql: "SELECT buffer_info FROM buffer_info WHERE checksum = ?", arguments: [checksum.hex]
            )
            .map { (try? JSONParser.parse($0)) ?? .string($0) }
        }
    }

    /// `PUT {"type": "buffer_info"}`: merges the fields into what is stored.
    package func mergeBufferInfo(_ info: [String: JSONValue], for checksum: Checksum) async throws {
        for (key, value) in info where !value.isNull {
            if key == "length" {
                guard case .int(let length) = value, length >= 0 else {
                    throw SeamlessDatabaseError.malformed("Malformed PUT buffer info request")
                }
            } else if key.hasPrefix("is_"), value.boolValue == nil {
                throw SeamlessDatabaseError.malformed("Malformed PUT buffer info request")
            }
        }
        try await write { db in
            var merged: [String: JSONValue] = [:]
            if let text = try String.fetchOne(
                db, sql: "SELECT buffer_info FROM buffer_info WHERE checksum = ?", arguments: [checksum.hex]),
                let stored = (try? JSONParser.parse(text))?.objectValue
            {
                merged = stored
            }
            merged.merge(info) { _, new in new }
            try db.execute(
                sql: "INSERT OR REPLACE INTO buffer_info (checksum, buffer_info) VALUES (?, ?)",
                arguments: [checksum.hex, PythonJSON.dumps(.object(merged), indent: 2)])
        }
    }

    // MARK: - semantic ↔ syntactic

    /// `GET {"type": "semantic_to_syntactic"}`.
    package func syntacticChecksums(forSemantic semantic: Checksum, celltype: String, subcelltype: String) async throws
        -> [Checksum]
    {
        try await conversions(
            select: "syntactic", where: "semantic", semantic, celltype: celltype, subcelltype: subcelltype)
    }

    /// `GET {"type": "syntactic_to_semantic"}`.
    package func semanticChecksums(forSyntactic syntactic: Checksum, celltype: String, subcelltype: String) async throws
        -> [Checksum]
    {
        try await conversions(
            select: "semantic", where: "syntactic", syntactic, celltype: celltype, subcelltype: subcelltype)
    }

    /// `column` and `key` are one of the two fixed column names, never user input.
    private func conversions(
        select column: String, where key: String, _ checksum: Checksum, celltype: String, subcelltype: String
    ) async throws -> [Checksum] {
        try await pool.read { db in
            try String.fetchAll(
                db,
                sql:
                    "SELECT \(column) FROM syntactic_to_semantic WHERE \(key) = ? AND celltype = ? AND subcelltype = ?",
                arguments: [checksum.hex, celltype, subcelltype]
            ).compactMap { try? Checksum(hex: $0) }
        }
    }

    /// `PUT {"type": "semantic_to_syntactic"}`.
    package func addSemanticToSyntactic(
        semantic: Checksum, celltype: String, subcelltype: String, syntactic: [Checksum]
    ) async throws {
        try await write { db in
            for checksum in syntactic {
                try db.execute(
                    sql:
                        "INSERT OR IGNORE INTO syntactic_to_semantic (syntactic, celltype, subcelltype, semantic) VALUES (?, ?, ?, ?)",
                    arguments: [checksum.hex, celltype, subcelltype, semantic.hex])
            }
        }
    }

    // MARK: - expression

    package struct ExpressionKey: Sendable, Hashable {
        package var input: Checksum
        /// The path as seamless-database keys it: `json.dumps(path)`.
        package var path: JSONValue
        package var celltype: String
        package var targetCelltype: String

        package init(input: Checksum, path: JSONValue, celltype: String, targetCelltype: String) {
            self.input = input
            self.path = path
            self.celltype = celltype
            self.targetCelltype = targetCelltype
        }
    }

    /// `GET {"type": "expression"}`.
    package func expressionResult(_ key: ExpressionKey) async throws -> Checksum? {
        try await pool.read { db in
            try String.fetchOne(
                db,
                sql: """
                    SELECT result FROM expression
                    WHERE input_checksum = ? AND path = ? AND celltype = ? AND target_celltype = ?
                    """,
                arguments: [key.input.hex, PythonJSON.dumps(key.path), key.celltype, key.targetCelltype]
            ).flatMap { try? Checksum(hex: $0) }
        }
    }

    /// `PUT {"type": "expression"}`, with seamless-database's size constraints.
    package func setExpressionResult(_ result: Checksum, for key: ExpressionKey) async throws {
        let pathText = PythonJSON.dumps(key.path)
        let hasPath = !(key.path.arrayValue?.isEmpty ?? (key.path.objectValue?.isEmpty ?? false))
        guard pathText.count <= 100, key.celltype.count <= 20, key.targetCelltype.count <= 20,
            !hasPath || ["mixed", "plain", "binary"].contains(key.celltype)
        else { throw SeamlessDatabaseError.malformed("Malformed expression request (constraint violation)") }
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO expression (input_checksum, path, celltype, target_celltype, result) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (input_checksum, path, celltype, target_celltype) DO UPDATE SET result = excluded.result
                    """,
                arguments: [key.input.hex, pathText, key.celltype, key.targetCelltype, result.hex])
        }
    }

    /// `GET {"type": "rev_expression"}`: the expressions known to give `result`.
    package func expressions(producing result: Checksum) async throws -> [ExpressionKey] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT input_checksum, path, celltype, target_celltype FROM expression WHERE result = ?",
                arguments: [result.hex]
            ).compactMap { row in
                guard let input = try? Checksum(hex: row["input_checksum"] as String) else { return nil }
                let pathText: String = row["path"]
                return ExpressionKey(
                    input: input, path: (try? JSONParser.parse(pathText)) ?? .string(pathText),
                    celltype: row["celltype"], targetCelltype: row["target_celltype"])
            }
        }
    }

    // MARK: - bucket_probe

    package struct BucketProbe: Sendable, Hashable {
        package var bucketKind: String
        package var label: String
        package var bucketChecksum: Checksum
        package var capturedAt: String
        package var freshnessTokens: [String: JSONValue]

        package init(
            bucketKind: String, label: String, bucketChecksum: Checksum, capturedAt: String,
            freshnessTokens: [String: JSONValue]
        ) {
            self.bucketKind = bucketKind
            self.label = label
            self.bucketChecksum = bucketChecksum
            self.capturedAt = capturedAt
            self.freshnessTokens = freshnessTokens
        }
    }

    /// `GET {"type": "bucket_probe"}`.
    package func bucketProbe(kind: String, label: String) async throws -> BucketProbe? {
        try await pool.read { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql:
                        "SELECT bucket_checksum, captured_at, freshness_tokens FROM bucket_probe WHERE bucket_kind = ? AND label = ?",
                    arguments: [kind, label]),
                let checksum = try? Checksum(hex: row["bucket_checksum"] as String)
            else { return nil }
            let tokens: String = row["freshness_tokens"]
            return BucketProbe(
                bucketKind: kind, label: label, bucketChecksum: checksum, capturedAt: row["captured_at"],
                freshnessTokens: (try? JSONParser.parse(tokens))?.objectValue ?? [:])
        }
    }

    /// `PUT {"type": "bucket_probe"}`: stores or refreshes the probe for a label.
    package func setBucketProbe(_ probe: BucketProbe) async throws {
        guard Self.bucketKinds.contains(probe.bucketKind), !probe.label.isEmpty, !probe.capturedAt.isEmpty else {
            throw SeamlessDatabaseError.malformed("Malformed PUT bucket_probe request")
        }
        try await write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO bucket_probe (bucket_kind, label, bucket_checksum, captured_at, freshness_tokens)
                    VALUES (?, ?, ?, ?, ?)
                    """,
                arguments: [
                    probe.bucketKind, probe.label, probe.bucketChecksum.hex, probe.capturedAt,
                    PythonJSON.dumps(.object(probe.freshnessTokens)),
                ])
        }
    }
}

/// A seamless-database request that cannot be answered; each maps to the status and
/// `ERROR: …` text the Python server answers with.
package enum SeamlessDatabaseError: Error, Sendable, Equatable, CustomStringConvertible {
    case malformed(String)
    case conflict(String)
    case notFound(String)
    case readOnly

    package var status: Int {
        switch self {
        case .malformed: 400
        case .conflict: 409
        case .notFound: 404
        case .readOnly: 405
        }
    }

    package var description: String {
        switch self {
        case .malformed(let message), .conflict(let message), .notFound(let message): "ERROR: " + message
        case .readOnly: "ERROR: Database server is read-only"
        }
    }
}
