/// A YAML value with the place it was written, kept for plugin and backend option sections so
/// that their own validation can still point at file, line and column.
package indirect enum ConfigValue: Sendable, Hashable {
    case null(SourceLocation)
    case bool(Bool, SourceLocation)
    case int(Int, SourceLocation)
    case double(Double, SourceLocation)
    case string(String, SourceLocation)
    case list([ConfigValue], SourceLocation)
    case map([(key: String, value: ConfigValue)], SourceLocation)

    package var location: SourceLocation {
        switch self {
        case .null(let at), .bool(_, let at), .int(_, let at), .double(_, let at),
            .string(_, let at), .list(_, let at), .map(_, let at):
            at
        }
    }

    package static func == (lhs: ConfigValue, rhs: ConfigValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let a, _), .bool(let b, _)): a == b
        case (.int(let a, _), .int(let b, _)): a == b
        case (.double(let a, _), .double(let b, _)): a == b
        case (.string(let a, _), .string(let b, _)): a == b
        case (.list(let a, _), .list(let b, _)): a == b
        case (.map(let a, _), .map(let b, _)):
            a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: false
        }
    }

    package func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let v, _): hasher.combine(v)
        case .int(let v, _): hasher.combine(v)
        case .double(let v, _): hasher.combine(v)
        case .string(let v, _): hasher.combine(v)
        case .list(let v, _): hasher.combine(v)
        case .map(let v, _):
            for (key, value) in v {
                hasher.combine(key)
                hasher.combine(value)
            }
        }
    }

    /// The value under `key` of a map, nil for other kinds or a missing key.
    package subscript(key: String) -> ConfigValue? {
        guard case .map(let entries, _) = self else { return nil }
        return entries.first { $0.key == key }?.value
    }
}
