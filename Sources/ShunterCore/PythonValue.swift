/// The Python value Seamless holds between deserializing a buffer and serializing it again.
///
/// Several celltype rules are defined by what Python does with such a value (`str(value)`,
/// `int(value)`, `json.dumps(value)`), and those depend on things `JSONValue` forgets: dict key
/// order, bytes versus str, Numpy arrays. This type keeps them, so that `CelltypeCodec` can
/// apply the same operations as `seamless/checksum/serialize.py` and `execute_bash.py`.
indirect enum PythonValue: Sendable {
    case none
    case bool(Bool)
    case int(Int64)
    /// A Python int outside Int64, as decimal text.
    case bigInt(String)
    case float(Double)
    case str(String)
    case list([PythonValue])
    /// Insertion-ordered, as Python dicts are.
    case dict([(String, PythonValue)])
    case bytes([UInt8])
    case ndarray(NumpyArray)

    var typeName: String {
        switch self {
        case .none: "NoneType"
        case .bool: "bool"
        case .int, .bigInt: "int"
        case .float: "float"
        case .str: "str"
        case .list: "list"
        case .dict: "dict"
        case .bytes: "bytes"
        case .ndarray: "numpy.ndarray"
        }
    }

    /// Converts to `JSONValue` (key order is dropped: every JSON writer here sorts keys).
    /// Nil for bytes and arrays, which JSON cannot hold.
    var jsonValue: JSONValue? {
        switch self {
        case .none: return JSONValue.null
        case .bool(let value): return .bool(value)
        case .int(let value): return .int(value)
        case .bigInt(let text): return .bigInt(text)
        case .float(let value): return .double(value)
        case .str(let value): return .string(value)
        case .list(let items):
            var out: [JSONValue] = []
            out.reserveCapacity(items.count)
            for item in items {
                guard let converted = item.jsonValue else { return nil }
                out.append(converted)
            }
            return .array(out)
        case .dict(let pairs):
            var out = [String: JSONValue](minimumCapacity: pairs.count)
            for (key, item) in pairs {
                guard let converted = item.jsonValue else { return nil }
                out[key] = converted
            }
            return .object(out)
        case .bytes, .ndarray:
            return nil
        }
    }

    init(_ json: JSONValue) {
        switch json {
        case .null: self = .none
        case .bool(let value): self = .bool(value)
        case .int(let value): self = .int(value)
        case .bigInt(let text): self = .bigInt(text)
        case .double(let value): self = .float(value)
        case .string(let value): self = .str(value)
        case .array(let items): self = .list(items.map(PythonValue.init))
        case .object(let dict):
            self = .dict(CanonicalJSON.sortedKeys(dict).map { ($0, PythonValue(dict[$0]!)) })
        }
    }
}

/// Python's `json.loads`: integers of any size stay integers, key order is kept.
enum PythonValueBuilder: JSONTreeBuilder {
    static func null() -> PythonValue { .none }
    static func bool(_ value: Bool) -> PythonValue { .bool(value) }
    static func int(_ value: Int64) -> PythonValue { .int(value) }
    static func bigInt(_ text: String) -> PythonValue { .bigInt(text) }
    static func double(_ value: Double) -> PythonValue { .float(value) }
    static func string(_ value: String) -> PythonValue { .str(value) }
    static func array(_ items: [PythonValue]) -> PythonValue { .list(items) }
    static func object(_ pairs: [(String, PythonValue)]) -> PythonValue { .dict(PythonValue.dedupe(pairs)) }
}

/// orjson's `loads`: integers outside [-2⁶³, 2⁶⁴-1] become floats.
enum OrjsonValueBuilder: JSONTreeBuilder {
    static func null() -> PythonValue { .none }
    static func bool(_ value: Bool) -> PythonValue { .bool(value) }
    static func int(_ value: Int64) -> PythonValue { .int(value) }
    static func bigInt(_ text: String) -> PythonValue {
        if !text.hasPrefix("-"), UInt64(text) != nil { return .bigInt(text) }
        return .float(Double(text) ?? .nan)
    }
    static func double(_ value: Double) -> PythonValue { .float(value) }
    static func string(_ value: String) -> PythonValue { .str(value) }
    static func array(_ items: [PythonValue]) -> PythonValue { .list(items) }
    static func object(_ pairs: [(String, PythonValue)]) -> PythonValue { .dict(PythonValue.dedupe(pairs)) }
}

extension PythonValue {
    /// A Python dict built from pairs: a repeated key keeps its first position and its last value.
    static func dedupe(_ pairs: [(String, PythonValue)]) -> [(String, PythonValue)] {
        guard pairs.count > 1 else { return pairs }
        var seen = [String: Int](minimumCapacity: pairs.count)
        var out: [(String, PythonValue)] = []
        out.reserveCapacity(pairs.count)
        for (key, value) in pairs {
            if let index = seen[key] {
                out[index].1 = value
            } else {
                seen[key] = out.count
                out.append((key, value))
            }
        }
        return out
    }
}
