import ShunterCore

/// JSON text as Python's `json.dumps` writes it (`", "` and `": "` separators, `ensure_ascii`,
/// `repr` floats), which is what seamless-database stores in its tables and answers over
/// HTTP. `JSONValue` objects carry no key order, so keys are always sorted; a client parses
/// the text, so only the order differs from the Python server's answer.
enum PythonJSON {
    static func dumps(_ value: JSONValue, indent: Int? = nil) -> String {
        var out = ""
        write(value, indent: indent, level: 0, into: &out)
        return out
    }

    private static func write(_ value: JSONValue, indent: Int?, level: Int, into out: inout String) {
        switch value {
        case .null: out += "null"
        case .bool(let flag): out += flag ? "true" : "false"
        case .int(let number): out += String(number)
        case .bigInt(let text): out += text
        case .double(let number): out += pythonRepr(number)
        case .string(let text): appendString(text, into: &out)
        case .array(let items):
            writeContainer(items.map { (nil, $0) }, open: "[", close: "]", indent: indent, level: level, into: &out)
        case .object(let object):
            let keys = object.keys.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
            writeContainer(keys.map { ($0, object[$0]!) }, open: "{", close: "}", indent: indent, level: level, into: &out)
        }
    }

    private static func writeContainer(
        _ items: [(String?, JSONValue)], open: String, close: String, indent: Int?, level: Int, into out: inout String
    ) {
        out += open
        if items.isEmpty {
            out += close
            return
        }
        for (index, (key, item)) in items.enumerated() {
            if let indent {
                out += index == 0 ? "\n" : ",\n"
                out += String(repeating: " ", count: indent * (level + 1))
            } else if index > 0 {
                out += ", "
            }
            if let key {
                appendString(key, into: &out)
                out += ": "
            }
            write(item, indent: indent, level: level + 1, into: &out)
        }
        if let indent { out += "\n" + String(repeating: " ", count: indent * level) }
        out += close
    }

    private static func appendString(_ text: String, into out: inout String) {
        out += "\""
        for unit in text.utf16 {
            switch unit {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x08: out += "\\b"
            case 0x0C: out += "\\f"
            case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(UInt8(unit)))
            default:
                let hex = String(unit, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            }
        }
        out += "\""
    }

    /// Python's `repr(float)`: shortest round-trip digits, positional for decimal exponents
    /// -4…15, scientific (`1e-05`, `1.5e+16`) otherwise.
    static func pythonRepr(_ number: Double) -> String {
        if number.isNaN { return "NaN" }
        if number.isInfinite { return number < 0 ? "-Infinity" : "Infinity" }
        if number == 0 { return number.sign == .minus ? "-0.0" : "0.0" }
        // Swift's description also gives the shortest round-trip digits; only the
        // notation differs, so take its digits and exponent and lay them out again.
        var text = Swift.abs(number).description
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...])!
            text = String(text[..<e])
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let integerPart = String(parts[0])
        let fractionPart = parts.count > 1 ? String(parts[1]) : ""
        var digits = integerPart + fractionPart
        var pointPosition = integerPart.count + exponent  // digits before the decimal point
        let leadingZeros = digits.prefix { $0 == "0" }.count
        digits.removeFirst(leadingZeros)
        pointPosition -= leadingZeros
        while digits.count > 1 && digits.hasSuffix("0") { digits.removeLast() }
        let decimalExponent = pointPosition - 1
        let sign = number < 0 ? "-" : ""
        if decimalExponent < -4 || decimalExponent >= 16 {
            var mantissa = String(digits.first!)
            if digits.count > 1 { mantissa += "." + digits.dropFirst() }
            let exponentText = String(Swift.abs(decimalExponent))
            return sign + mantissa + "e" + (decimalExponent < 0 ? "-" : "+")
                + (exponentText.count < 2 ? "0" : "") + exponentText
        }
        if pointPosition <= 0 {
            return sign + "0." + String(repeating: "0", count: -pointPosition) + digits
        }
        if pointPosition >= digits.count {
            return sign + digits + String(repeating: "0", count: pointPosition - digits.count) + ".0"
        }
        let split = digits.index(digits.startIndex, offsetBy: pointPosition)
        return sign + digits[..<split] + "." + digits[split...]
    }
}
