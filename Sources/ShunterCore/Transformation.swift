/// A transformation as a client sends it: input pins, code, output spec and dunder keys.
///
/// Its identity (`checksum`) is the checksum of `identityBuffer`: the pins plus the
/// load-bearing dunders only (`__language__ __output__ __as__ __format__ __schema__`),
/// serialized as a `plain` buffer. `__env__` and `__meta__` travel beside it and do not
/// change the identity.
public struct Transformation: Sendable {
    /// One input pin: `[celltype, subcelltype, checksum]` in the dict.
    public struct Pin: Sendable, Hashable {
        public var celltype: String
        public var subcelltype: String?
        public var checksum: Checksum

        public init(celltype: String, subcelltype: String?, checksum: Checksum) {
            self.celltype = celltype
            self.subcelltype = subcelltype
            self.checksum = checksum
        }
    }

    /// `__output__`: `[name, celltype, subcelltype, ...]`.
    public struct Output: Sendable, Hashable {
        public var name: String
        public var celltype: Celltype
        public var subcelltype: String?

        public init(name: String, celltype: Celltype, subcelltype: String?) {
            self.name = name
            self.celltype = celltype
            self.subcelltype = subcelltype
        }
    }

    /// The dict as received (without orthogonal dunders, which are in `dunder`).
    public let dict: [String: JSONValue]
    /// Orthogonal dunders (`__env__`, `__meta__`, ...), from the dict or from the request's `tf_dunder`.
    public let dunder: [String: JSONValue]
    public let checksum: Checksum
    public let language: String
    public let output: Output
    public let pins: [String: Pin]

    /// `__env__`: the checksum of a `plain` buffer holding the environment request, if any.
    public var environmentChecksum: Checksum? {
        guard let text = dunder["__env__"]?.stringValue else { return nil }
        return try? Checksum(hex: text)
    }

    /// `__meta__`: scheduling hints (cores, memory, walltime, ...), never part of the identity.
    public var meta: [String: JSONValue] { dunder["__meta__"]?.objectValue ?? [:] }
}
