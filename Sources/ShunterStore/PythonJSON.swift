import ShunterCore

/// JSON text as Python's `json.dumps` writes it (`", "` and `": "` separators, `ensure_ascii`,
/// `repr` floats), which is what seamless-database stores in its tables and answers over
/// HTTP. `JSONValue` objects carry no key order, so keys are always sorted; a client parses
/// the text, so only the order differs from the Python server's answer.
enum PythonJSON {
    static func dumps(_ value: JSONValue, indent: Int? = nil) -> String {
        // Bytes, not String appends: a metadata row is written for every job, and appending
        // to a String scalar by scalar was half the cost of storing its result.
        var out: [UInt8] = []
        out.reserveCapacity(512)
        write(value, indent: indent, level: 0, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func write(_ value: JSONValue, indent: Int?, level: Int, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let flag): out.append(contentsOf: (flag ? "true" : "false").utf8)
        case .int(let number): out.append(contentsOf: String(number).utf8)
        case .bigInt(let text): out.append(contentsOf: text.utf8)
        case .double(let number): number.appendPythonJSON(to: &out)
        case .string(let text): PythonText.appendASCIIJSONString(text, to: &out)
        case .array(let items):
            writeContainer(items.map { (nil, $0) }, open: "[", close: "]", indent: indent, level: level, into: &out)
        case .object(let object):
            let keys = object.keys.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
            writeContainer(
                keys.map { ($0, object[$0]!) }, open: "{", close: "}", indent: indent, level: level, into: &out)
        }
    }

    private static func writeContainer(
        _ items: [(String?, JSONValue)], open: Unicode.Scalar, close: Unicode.Scalar, indent: Int?, level: Int,
        into out: inout [UInt8]
    ) {
        out.append(UInt8(ascii: open))
        if items.isEmpty {
            out.append(UInt8(ascii: close))
            return
        }
        for (index, (key, item)) in items.enumerated() {
            if let indent {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                out.append(UInt8(ascii: "\n"))
                out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: indent * (level + 1)))
            } else if index > 0 {
                out.append(contentsOf: ", ".utf8)
            }
            if let key {
                PythonText.appendASCIIJSONString(key, to: &out)
                out.append(contentsOf: ": ".utf8)
            }
            write(item, indent: indent, level: level + 1, into: &out)
        }
        if let indent {
            out.append(UInt8(ascii: "\n"))
            out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: indent * level))
        }
        out.append(UInt8(ascii: close))
    }
}
