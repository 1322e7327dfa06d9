/// JSON text exactly as Seamless writes it with orjson.
///
/// `encode` is `seamless/checksum/json_.py:json_dumps_bytes`, i.e.
/// `orjson.dumps(value, option=OPT_INDENT_2 | OPT_SORT_KEYS)`, the basis of every `plain`,
/// `str`, `int`, `float`, `bool` and `checksum` buffer and of transformation identity:
/// - two-space indent, `": "` after keys, no trailing newline (celltype rules add `"\n"`);
///   empty containers are `{}` and `[]`;
/// - keys sorted by code point (= UTF-8 byte order, not Swift's `String <`);
/// - non-ASCII written raw as UTF-8; escaped are only `"`, `\`, and U+0000…U+001F (`\b \t \n
///   \f \r` short, the rest `\u00XX` lowercase); DEL, `/`, U+2028 stay raw;
/// - floats: shortest round-trip digits, fixed notation for decimal exponents -5…15 (`1.0`,
///   `0.00001`), else `1.5e-7` / `1e+16`; NaN and ±infinity become `null`.
///
/// `.bigInt` text is written as is (orjson itself refuses integers beyond 64 bits;
/// `CelltypeCodec` reports those as errors where Seamless would fail).
package enum CanonicalJSON {
    /// `orjson.dumps(value, option=OPT_INDENT_2 | OPT_SORT_KEYS)`.
    package static func encode(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        encode(value, into: &out)
        return out
    }

    package static func encode(_ value: JSONValue, into out: inout [UInt8]) {
        write(value, indent: 0, pretty: true, into: &out)
    }

    /// `orjson.dumps(value, option=OPT_SORT_KEYS)`: the compact form (`{"a":1,"b":[1,2]}`).
    /// `JSONValue` objects have no order, so keys are always sorted.
    package static func encodeCompact(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128)
        write(value, indent: 0, pretty: false, into: &out)
        return out
    }

    /// Object keys in the order orjson's OPT_SORT_KEYS writes them.
    package static func sortedKeys(_ object: [String: JSONValue]) -> [String] {
        object.keys.sorted(by: utf8Precedes)
    }

    static func utf8Precedes(_ lhs: String, _ rhs: String) -> Bool {
        lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
    }

    private static func write(_ value: JSONValue, indent: Int, pretty: Bool, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let flag): out.append(contentsOf: (flag ? "true" : "false").utf8)
        case .int(let number): appendInteger(number, to: &out)
        case .bigInt(let text): out.append(contentsOf: text.utf8)
        case .double(let number): number.appendOrjsonText(to: &out)
        case .string(let text): appendString(text, to: &out)
        case .array(let items):
            if items.isEmpty {
                out.append(contentsOf: "[]".utf8)
                return
            }
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                if pretty { newline(indent + 2, &out) }
                write(item, indent: indent + 2, pretty: pretty, into: &out)
            }
            if pretty { newline(indent, &out) }
            out.append(UInt8(ascii: "]"))
        case .object(let object):
            if object.isEmpty {
                out.append(contentsOf: "{}".utf8)
                return
            }
            out.append(UInt8(ascii: "{"))
            for (index, key) in sortedKeys(object).enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                if pretty { newline(indent + 2, &out) }
                appendString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                if pretty { out.append(UInt8(ascii: " ")) }
                write(object[key]!, indent: indent + 2, pretty: pretty, into: &out)
            }
            if pretty { newline(indent, &out) }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func newline(_ indent: Int, _ out: inout [UInt8]) {
        out.append(UInt8(ascii: "\n"))
        for _ in 0..<indent { out.append(UInt8(ascii: " ")) }
    }

    static func appendInteger(_ number: Int64, to out: inout [UInt8]) {
        if number == 0 {
            out.append(UInt8(ascii: "0"))
            return
        }
        var magnitude = number.magnitude
        if number < 0 { out.append(UInt8(ascii: "-")) }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buffer in
            var count = 0
            while magnitude > 0 {
                buffer[count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            }
            while count > 0 {
                count -= 1
                out.append(buffer[count])
            }
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { bytes in
            var runStart = 0
            for index in 0..<bytes.count {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                if runStart < index { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index])) }
                runStart = index + 1
                out.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
                case 0x08: out.append(UInt8(ascii: "b"))
                case 0x09: out.append(UInt8(ascii: "t"))
                case 0x0A: out.append(UInt8(ascii: "n"))
                case 0x0C: out.append(UInt8(ascii: "f"))
                case 0x0D: out.append(UInt8(ascii: "r"))
                default:
                    out.append(contentsOf: "u00".utf8)
                    out.append(hexDigits[Int(byte >> 4)])
                    out.append(hexDigits[Int(byte & 0xF)])
                }
            }
            if runStart < bytes.count {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<bytes.count]))
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
