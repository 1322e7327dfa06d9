/// The celltypes of Seamless 1.x. A celltype fixes how a value becomes a buffer, and so which
/// checksum it has; see `CelltypeCodec` for the exact rules.
package enum Celltype: String, Sendable, Codable, CaseIterable {
    case binary
    case mixed
    case text
    case python
    case ipython
    case plain
    case yaml
    case str
    case bytes
    case int
    case float
    case bool
    case checksum

    /// Celltypes whose buffer is UTF-8 text.
    package var isText: Bool {
        switch self {
        case .text, .python, .ipython, .yaml, .str, .int, .float, .bool: true
        default: false
        }
    }

    /// Parses a celltype name, naming the accepted ones when it is not one of them.
    package init(name: String) throws(TransformationError) {
        guard let celltype = Celltype(rawValue: name) else {
            throw .unknownCelltype(name)
        }
        self = celltype
    }
}
