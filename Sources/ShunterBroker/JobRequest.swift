import ShunterCore

/// What a client submitted: the transformation dict and the dunders beside it. Journaled as
/// canonical JSON, so that after a restart the broker can rebuild the exact `Transformation`.
package struct JobRequest: Sendable {
    package var transformation: Transformation

    package init(transformation: Transformation) {
        self.transformation = transformation
    }

    /// The journal's form: `{"dict": {...}, "dunder": {...}}`.
    package func journalBytes() -> [UInt8] {
        CanonicalJSON.encode(
            .object([
                "dict": .object(transformation.dict),
                "dunder": .object(transformation.dunder),
            ]))
    }

    package static func fromJournal(_ bytes: [UInt8], hash: HashAlgorithm) throws -> JobRequest {
        let value = try JSONParser.parse(bytes)
        guard let dict = value["dict"]?.objectValue else {
            throw TransformationError.missingKey("dict")
        }
        let dunder = value["dunder"]?.objectValue ?? [:]
        return JobRequest(
            transformation: try Transformation.parse(dict: dict, dunder: dunder, hash: hash, claimedChecksum: nil))
    }
}
