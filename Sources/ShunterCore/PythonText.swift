/// Python's text conversions of a value, where Seamless's buffers are made of them:
/// `str(value)` (text celltypes, bash pin files and variables) and `json.dumps(value, ...)`
/// (the `mixed` celltype and bash pin files of dicts and lists).
package enum PythonText {
    struct Unsupported: Error {
        let reason: String
    }

    // MARK: str() and repr()

    /// `str(value)`.
    static func str(_ value: PythonValue) throws(Unsupported) -> String {
        if case .str(let text) = value { return text }
        var out: [UInt8] = []
        try appendRepr(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func appendRepr(_ value: PythonValue, to out: inout [UInt8]) throws(Unsupported) {
        switch value {
        case .none: out.append(contentsOf: "None".utf8)
        case .bool(let flag): out.append(contentsOf: (flag ? "True" : "False").utf8)
        case .int(let number): CanonicalJSON.appendInteger(number, to: &out)
        case .bigInt(let text): out.append(contentsOf: text.utf8)
        case .float(let number): number.appendPythonRepr(to: &out)
        case .str(let text): appendStringRepr(text, to: &out)
        case .bytes(let bytes): appendBytesRepr(bytes, to: &out)
        case .list(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(contentsOf: ", ".utf8) }
                try appendRepr(item, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .dict(let pairs):
            out.append(UInt8(ascii: "{"))
            for (index, (key, item)) in pairs.enumerated() {
                if index > 0 { out.append(contentsOf: ", ".utf8) }
                appendStringRepr(key, to: &out)
                out.append(contentsOf: ": ".utf8)
                try appendRepr(item, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .ndarray:
            throw Unsupported(reason: "the Python text of a Numpy array (numpy's own formatting) is not reproduced")
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    private static func appendHex(_ value: UInt32, width: Int, to out: inout [UInt8]) {
        for shift in stride(from: (width - 1) * 4, through: 0, by: -4) {
            out.append(hexDigits[Int((value >> UInt32(shift)) & 0xF)])
        }
    }

    /// `repr(str)`: single quotes unless the text has `'` and no `"`; non-printable characters
    /// (Unicode categories Cc Cf Cs Co Cn Zl Zp and Zs other than space) escaped.
    static func appendStringRepr(_ text: String, to out: inout [UInt8]) {
        let quote: UInt8 =
            text.utf8.contains(UInt8(ascii: "'")) && !text.utf8.contains(UInt8(ascii: "\""))
            ? UInt8(ascii: "\"") : UInt8(ascii: "'")
        out.append(quote)
        for scalar in text.unicodeScalars {
            let value = scalar.value
            switch value {
            case UInt32(quote), 0x5C:
                out.append(UInt8(ascii: "\\"))
                out.append(UInt8(value))
            case 0x09: out.append(contentsOf: "\\t".utf8)
            case 0x0A: out.append(contentsOf: "\\n".utf8)
            case 0x0D: out.append(contentsOf: "\\r".utf8)
            case 0x20..<0x7F: out.append(UInt8(value))
            case 0..<0x20, 0x7F:
                out.append(contentsOf: "\\x".utf8)
                appendHex(value, width: 2, to: &out)
            default:
                if isPrintable(scalar) {
                    out.append(contentsOf: String(scalar).utf8)
                } else if value <= 0xFF {
                    out.append(contentsOf: "\\x".utf8)
                    appendHex(value, width: 2, to: &out)
                } else if value <= 0xFFFF {
                    out.append(contentsOf: "\\u".utf8)
                    appendHex(value, width: 4, to: &out)
                } else {
                    out.append(contentsOf: "\\U".utf8)
                    appendHex(value, width: 8, to: &out)
                }
            }
        }
        out.append(quote)
    }

    /// Python's `str.isprintable` for one character. (Swift's Unicode tables may be a version
    /// apart from Python 3.11's for newly assigned characters.)
    static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.value == 0x20 { return true }
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned,
            .lineSeparator, .paragraphSeparator, .spaceSeparator:
            return false
        default:
            return true
        }
    }

    /// `repr(bytes)`: `b'...'` with `\t \n \r \\`, the quote, and `\xNN` for non-printable ASCII.
    static func appendBytesRepr(_ bytes: [UInt8], to out: inout [UInt8]) {
        let quote: UInt8 =
            bytes.contains(UInt8(ascii: "'")) && !bytes.contains(UInt8(ascii: "\""))
            ? UInt8(ascii: "\"") : UInt8(ascii: "'")
        out.append(UInt8(ascii: "b"))
        out.append(quote)
        for byte in bytes {
            switch byte {
            case quote, 0x5C:
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
            case 0x09: out.append(contentsOf: "\\t".utf8)
            case 0x0A: out.append(contentsOf: "\\n".utf8)
            case 0x0D: out.append(contentsOf: "\\r".utf8)
            case 0x20..<0x7F: out.append(byte)
            default:
                out.append(contentsOf: "\\x".utf8)
                appendHex(UInt32(byte), width: 2, to: &out)
            }
        }
        out.append(quote)
    }

    // MARK: json.dumps

    enum JSONLayout {
        /// `json.dumps(value)`: `", "` and `": "` separators, keys in dict order.
        case pythonDefault
        /// `json.dumps(value, sort_keys=True, indent=2)`: what `mixed` uses for plain data.
        case sortedIndent2
    }

    /// Python's `json.dumps` with `ensure_ascii=True` (its default): everything outside
    /// printable ASCII is `\uXXXX` (lowercase, astral characters as surrogate pairs); NaN and
    /// infinities are written as `NaN`, `Infinity`, `-Infinity`.
    static func jsonDumps(_ value: PythonValue, layout: JSONLayout) throws(Unsupported) -> [UInt8] {
        var out: [UInt8] = []
        try appendJSON(value, layout: layout, indent: 0, to: &out)
        return out
    }

    private static func appendJSON(_ value: PythonValue, layout: JSONLayout, indent: Int, to out: inout [UInt8])
        throws(Unsupported)
    {
        switch value {
        case .none: out.append(contentsOf: "null".utf8)
        case .bool(let flag): out.append(contentsOf: (flag ? "true" : "false").utf8)
        case .int(let number): CanonicalJSON.appendInteger(number, to: &out)
        case .bigInt(let text): out.append(contentsOf: text.utf8)
        case .float(let number): number.appendPythonJSON(to: &out)
        case .str(let text): appendASCIIJSONString(text, to: &out)
        case .list(let items):
            if items.isEmpty {
                out.append(contentsOf: "[]".utf8)
                return
            }
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                separate(index: index, layout: layout, indent: indent + 2, to: &out)
                try appendJSON(item, layout: layout, indent: indent + 2, to: &out)
            }
            close(layout: layout, indent: indent, to: &out)
            out.append(UInt8(ascii: "]"))
        case .dict(let pairs):
            if pairs.isEmpty {
                out.append(contentsOf: "{}".utf8)
                return
            }
            let ordered =
                layout == .sortedIndent2
                ? pairs.sorted { CanonicalJSON.utf8Precedes($0.0, $1.0) } : pairs
            out.append(UInt8(ascii: "{"))
            for (index, (key, item)) in ordered.enumerated() {
                separate(index: index, layout: layout, indent: indent + 2, to: &out)
                appendASCIIJSONString(key, to: &out)
                out.append(contentsOf: ": ".utf8)
                try appendJSON(item, layout: layout, indent: indent + 2, to: &out)
            }
            close(layout: layout, indent: indent, to: &out)
            out.append(UInt8(ascii: "}"))
        case .bytes, .ndarray:
            throw Unsupported(reason: "Object of type \(value.typeName) is not JSON serializable")
        }
    }

    private static func separate(index: Int, layout: JSONLayout, indent: Int, to out: inout [UInt8]) {
        switch layout {
        case .pythonDefault:
            if index > 0 { out.append(contentsOf: ", ".utf8) }
        case .sortedIndent2:
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "\n"))
            for _ in 0..<indent { out.append(UInt8(ascii: " ")) }
        }
    }

    private static func close(layout: JSONLayout, indent: Int, to out: inout [UInt8]) {
        guard layout == .sortedIndent2 else { return }
        out.append(UInt8(ascii: "\n"))
        for _ in 0..<indent { out.append(UInt8(ascii: " ")) }
    }

    /// A string as `json.dumps` writes it (`ensure_ascii`): outside printable ASCII as
    /// `\uXXXX`, a character beyond the BMP as its two UTF-16 units.
    package static func appendASCIIJSONString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Checksums, names, host names: nothing to escape, copied whole (a result-cache
        // metadata row is written for every job).
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C }) {
            out.append(contentsOf: text.utf8)
            out.append(UInt8(ascii: "\""))
            return
        }
        for scalar in text.unicodeScalars {
            let value = scalar.value
            switch value {
            case 0x22: out.append(contentsOf: "\\\"".utf8)
            case 0x5C: out.append(contentsOf: "\\\\".utf8)
            case 0x0A: out.append(contentsOf: "\\n".utf8)
            case 0x0D: out.append(contentsOf: "\\r".utf8)
            case 0x09: out.append(contentsOf: "\\t".utf8)
            case 0x08: out.append(contentsOf: "\\b".utf8)
            case 0x0C: out.append(contentsOf: "\\f".utf8)
            case 0x20..<0x7F: out.append(UInt8(value))
            case 0x10000...:
                let offset = value - 0x10000
                out.append(contentsOf: "\\u".utf8)
                appendHex(0xD800 + (offset >> 10), width: 4, to: &out)
                out.append(contentsOf: "\\u".utf8)
                appendHex(0xDC00 + (offset & 0x3FF), width: 4, to: &out)
            default:
                out.append(contentsOf: "\\u".utf8)
                appendHex(value, width: 4, to: &out)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
