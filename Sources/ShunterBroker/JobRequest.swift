import ShunterCore

/// What a client submitted: the transformation dict and the dunders beside it. Journaled as
/// canonical JSON, so that after a restart the broker can rebuild the exact `Transformation`.
public struct JobRequest: Sendable {
    public var transformation: Transformation

    public init(transformation: Transformation) {
        self.transformation = transformation
    }

    /// The journal's form: `{"dict": {...}, "dunder": {...}}`.
    public func journalBytes() -> [UInt8] {
        CanonicalJSON.encode(
            .object([
                "dict": .object(transformation.dict),
                "dunder": .object(transformation.dunder),
            ]))
    }

    public static func fromJournal(_ bytes: [UInt8], hash: HashAlgorithm) throws -> JobRequest {
        let value = try JSONParser.parse(bytes)
        guard let dict = value["dict"]?.objectValue else {
            throw TransformationError.missingKey("dict")
        }
        let dunder = value["dunder"]?.objectValue ?? [:]
        return JobRequest(
            transformation: try Transformation.parse(dict: dict, dunder: dunder, hash: hash, claimedChecksum: nil))
    }
}
