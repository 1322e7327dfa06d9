/// A transformation as a client sends it: input pins, code, output spec and dunder keys.
///
/// Its identity (`checksum`) is the checksum of `identityBuffer`: the pins plus the
/// load-bearing dunders only (`__language__ __output__ __as__ __format__ __schema__`),
/// serialized as a `plain` buffer. `__env__` and `__meta__` travel beside it and do not
/// change the identity.
package struct Transformation: Sendable {
    /// One input pin: `[celltype, subcelltype, checksum]` in the dict.
    package struct Pin: Sendable, Hashable {
        package var celltype: String
        package var subcelltype: String?
        package var checksum: Checksum

        package init(celltype: String, subcelltype: String?, checksum: Checksum) {
            self.celltype = celltype
            self.subcelltype = subcelltype
            self.checksum = checksum
        }
    }

    /// `__output__`: `[name, celltype, subcelltype, ...]`.
    package struct Output: Sendable, Hashable {
        package var name: String
        package var celltype: Celltype
        package var subcelltype: String?

        package init(name: String, celltype: Celltype, subcelltype: String?) {
            self.name = name
            self.celltype = celltype
            self.subcelltype = subcelltype
        }
    }

    /// The dict as received (without orthogonal dunders, which are in `dunder`).
    package let dict: [String: JSONValue]
    /// Orthogonal dunders (`__env__`, `__meta__`, ...), from the dict or from the request's `tf_dunder`.
    package let dunder: [String: JSONValue]
    package let checksum: Checksum
    package let language: String
    package let output: Output
    package let pins: [String: Pin]

    /// `__env__`: the checksum of a `plain` buffer holding the environment request, if any.
    package var environmentChecksum: Checksum? {
        guard let text = dunder["__env__"]?.stringValue else { return nil }
        return try? Checksum(hex: text)
    }

    /// `__meta__`: scheduling hints (cores, memory, walltime, ...), never part of the identity.
    package var meta: [String: JSONValue] { dunder["__meta__"]?.objectValue ?? [:] }
}
