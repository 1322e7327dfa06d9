/// Why a transformation dict was refused. Each case says what was expected so that the HTTP
/// layer can answer 400 with the text as is.
package enum TransformationError: Error, Sendable, Equatable, CustomStringConvertible {
    case notAnObject(String)
    case missingKey(String)
    case badPin(name: String, reason: String)
    case badDunder(key: String, reason: String)
    case unknownDunder(String)
    case unknownCelltype(String)
    case checksumMismatch(claimed: Checksum, computed: Checksum)

    package var description: String {
        switch self {
        case .notAnObject(let got):
            "a transformation must be a JSON object, got \(got)"
        case .missingKey(let key):
            "the transformation has no '\(key)'"
        case .badPin(let name, let reason):
            "pin '\(name)': \(reason) (a pin is [celltype, subcelltype, checksum])"
        case .badDunder(let key, let reason):
            "'\(key)': \(reason)"
        case .unknownDunder(let key):
            "unknown transformation dunder key '\(key)'"
        case .unknownCelltype(let name):
            "unknown celltype '\(name)'; expected one of: "
                + Celltype.allCases.map(\.rawValue).joined(separator: ", ")
        case .checksumMismatch(let claimed, let computed):
            "tf_checksum \(claimed) does not match the transformation, whose checksum is \(computed)"
        }
    }
}
