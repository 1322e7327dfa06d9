/// Why some bytes are not the JSON they were supposed to be: the byte offset where parsing
/// stopped and what was expected there, so a 400 answer points at the exact spot.
package struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Offset (0-based) of the byte where the input stopped being valid JSON.
    package let offset: Int
    package let reason: String

    package init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }

    package var description: String { "invalid JSON at byte \(offset): \(reason)" }
}

/// A strict RFC 8259 JSON parser working directly on UTF-8 bytes.
///
/// It parses every request body, so it avoids Foundation and per-character allocation: strings
/// without escapes are validated and copied in one step, numbers are converted from the byte
/// slice. Integers without fraction or exponent stay integers (`1` and `1.0` serialize
/// differently in Seamless); beyond 64 bits they are kept as their text (`.bigInt`).
/// Duplicate object keys: the last one wins, as in Python's `json` and orjson.
package enum JSONParser {
    /// Nesting deeper than this is refused (orjson refuses at 1024; deeper input would only
    /// risk the stack).
    package static let maximumDepth = 1024

    package static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { (buffer) throws(JSONParseError) -> JSONValue in
            try parse(buffer: buffer)
        }
    }

    package static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    package static func parse(buffer: UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> JSONValue {
        var scanner = JSONScanner<JSONValueBuilder>(buffer, allowNonFinite: false)
        return try scanner.parseDocument()
    }

    /// Parses the way Python's `json.loads` does (used where Seamless itself calls it, e.g. when
    /// reading a bash `RESULT`): also accepts `NaN`, `Infinity`, `-Infinity`, and keeps object
    /// key order.
    static func parsePython(_ bytes: [UInt8]) throws(JSONParseError) -> PythonValue {
        try bytes.withUnsafeBufferPointer { (buffer) throws(JSONParseError) -> PythonValue in
            var scanner = JSONScanner<PythonValueBuilder>(buffer, allowNonFinite: true)
            return try scanner.parseDocument()
        }
    }

    /// Parses the way orjson does (Seamless's `plain` deserialization): strict JSON, object key
    /// order kept, integers outside [-2⁶³, 2⁶⁴-1] become floats.
    static func parseOrjson(_ bytes: ArraySlice<UInt8>) throws(JSONParseError) -> PythonValue {
        try bytes.withUnsafeBufferPointer { (buffer) throws(JSONParseError) -> PythonValue in
            var scanner = JSONScanner<OrjsonValueBuilder>(buffer, allowNonFinite: false)
            return try scanner.parseDocument()
        }
    }
}

/// What the scanner builds: `JSONValue` for requests, an ordered Python-like tree where
/// Seamless's Python semantics depend on key order.
protocol JSONTreeBuilder {
    associatedtype Node
    static func null() -> Node
    static func bool(_ value: Bool) -> Node
    static func int(_ value: Int64) -> Node
    /// An integer that does not fit in Int64, as its decimal text (optional leading `-`).
    static func bigInt(_ text: String) -> Node
    static func double(_ value: Double) -> Node
    static func string(_ value: String) -> Node
    static func array(_ items: [Node]) -> Node
    static func object(_ pairs: [(String, Node)]) -> Node
}

enum JSONValueBuilder: JSONTreeBuilder {
    static func null() -> JSONValue { .null }
    static func bool(_ value: Bool) -> JSONValue { .bool(value) }
    static func int(_ value: Int64) -> JSONValue { .int(value) }
    static func bigInt(_ text: String) -> JSONValue { .bigInt(text) }
    static func double(_ value: Double) -> JSONValue { .double(value) }
    static func string(_ value: String) -> JSONValue { .string(value) }
    static func array(_ items: [JSONValue]) -> JSONValue { .array(items) }
    static func object(_ pairs: [(String, JSONValue)]) -> JSONValue {
        var dict = [String: JSONValue](minimumCapacity: pairs.count)
        for (key, value) in pairs { dict[key] = value }
        return .object(dict)
    }
}

struct JSONScanner<Builder: JSONTreeBuilder> {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var position = 0
    private let allowNonFinite: Bool
    private var depth = 0
    /// Reused for strings with escapes, so only the final String allocates.
    private var scratch: [UInt8] = []

    init(_ bytes: UnsafeBufferPointer<UInt8>, allowNonFinite: Bool) {
        self.bytes = bytes
        self.allowNonFinite = allowNonFinite
    }

    mutating func parseDocument() throws(JSONParseError) -> Builder.Node {
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        if position != bytes.count {
            throw fail("unexpected \(describeByte(at: position)) after the end of the JSON value")
        }
        return value
    }

    // MARK: values

    private mutating func parseValue() throws(JSONParseError) -> Builder.Node {
        guard position < bytes.count else { throw fail("unexpected end of input, expected a value") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return Builder.string(try parseString())
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return Builder.bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return Builder.bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return Builder.null()
        case UInt8(ascii: "N") where allowNonFinite:
            try expectLiteral("NaN")
            return Builder.double(.nan)
        case UInt8(ascii: "I") where allowNonFinite:
            try expectLiteral("Infinity")
            return Builder.double(.infinity)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try parseNumber()
        default:
            throw fail(
                "unexpected \(describeByte(at: position)), expected a value (object, array, string, number, true, false or null)"
            )
        }
    }

    private mutating func parseObject() throws(JSONParseError) -> Builder.Node {
        try enterNesting()
        position += 1 // {
        var pairs: [(String, Builder.Node)] = []
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
            position += 1
            depth -= 1
            return Builder.object(pairs)
        }
        while true {
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
                throw fail("expected a string as object key, got \(describeByte(at: position))")
            }
            let key = try parseString()
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else {
                throw fail("expected ':' after object key, got \(describeByte(at: position))")
            }
            position += 1
            skipWhitespace()
            let value = try parseValue()
            pairs.append((key, value))
            skipWhitespace()
            guard position < bytes.count else {
                throw fail("unexpected end of input inside an object, expected ',' or '}'")
            }
            if bytes[position] == UInt8(ascii: ",") {
                position += 1
                continue
            }
            if bytes[position] == UInt8(ascii: "}") {
                position += 1
                depth -= 1
                return Builder.object(pairs)
            }
            throw fail("expected ',' or '}' in object, got \(describeByte(at: position))")
        }
    }

    private mutating func parseArray() throws(JSONParseError) -> Builder.Node {
        try enterNesting()
        position += 1 // [
        var items: [Builder.Node] = []
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
            position += 1
            depth -= 1
            return Builder.array(items)
        }
        while true {
            skipWhitespace()
            items.append(try parseValue())
            skipWhitespace()
            guard position < bytes.count else {
                throw fail("unexpected end of input inside an array, expected ',' or ']'")
            }
            if bytes[position] == UInt8(ascii: ",") {
                position += 1
                continue
            }
            if bytes[position] == UInt8(ascii: "]") {
                position += 1
                depth -= 1
                return Builder.array(items)
            }
            throw fail("expected ',' or ']' in array, got \(describeByte(at: position))")
        }
    }

    private mutating func enterNesting() throws(JSONParseError) {
        depth += 1
        if depth > JSONParser.maximumDepth {
            throw fail("nesting deeper than \(JSONParser.maximumDepth) levels")
        }
    }

    // MARK: strings

    private mutating func parseString() throws(JSONParseError) -> String {
        let start = position + 1
        var index = start
        // Fast path: no escapes. Control characters are refused; UTF-8 is validated at the end.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let slice = UnsafeBufferPointer(rebasing: bytes[start..<index])
                guard let string = String(validating: slice, as: UTF8.self) else {
                    throw JSONParseError(offset: start + invalidUTF8Offset(slice), reason: "invalid UTF-8 in string")
                }
                position = index + 1
                return string
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 {
                throw JSONParseError(offset: index, reason: "unescaped control character \(hexByte(byte)) in string")
            }
            index += 1
        }
        guard index < bytes.count else {
            throw JSONParseError(offset: position, reason: "unterminated string")
        }
        // Slow path: copy what was scanned, then decode escapes into the scratch buffer.
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                guard let string = scratch.withUnsafeBufferPointer({ String(validating: $0, as: UTF8.self) }) else {
                    let bad = scratch.withUnsafeBufferPointer { invalidUTF8Offset($0) }
                    throw JSONParseError(offset: start + bad, reason: "invalid UTF-8 in string")
                }
                position = index + 1
                return string
            }
            if byte < 0x20 {
                throw JSONParseError(offset: index, reason: "unescaped control character \(hexByte(byte)) in string")
            }
            if byte != UInt8(ascii: "\\") {
                scratch.append(byte)
                index += 1
                continue
            }
            guard index + 1 < bytes.count else { break }
            let escape = bytes[index + 1]
            switch escape {
            case UInt8(ascii: "\""): scratch.append(0x22)
            case UInt8(ascii: "\\"): scratch.append(0x5C)
            case UInt8(ascii: "/"): scratch.append(0x2F)
            case UInt8(ascii: "b"): scratch.append(0x08)
            case UInt8(ascii: "f"): scratch.append(0x0C)
            case UInt8(ascii: "n"): scratch.append(0x0A)
            case UInt8(ascii: "r"): scratch.append(0x0D)
            case UInt8(ascii: "t"): scratch.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try readHex4(at: index + 2)
                var consumed = 6
                if (0xD800...0xDBFF).contains(scalar) {
                    guard index + 7 < bytes.count,
                        bytes[index + 6] == UInt8(ascii: "\\"), bytes[index + 7] == UInt8(ascii: "u")
                    else {
                        throw JSONParseError(
                            offset: index,
                            reason: "high surrogate \\u\(hex4(scalar)) not followed by a low surrogate escape")
                    }
                    let low = try readHex4(at: index + 8)
                    guard (0xDC00...0xDFFF).contains(low) else {
                        throw JSONParseError(
                            offset: index + 6,
                            reason: "expected a low surrogate after \\u\(hex4(scalar)), got \\u\(hex4(low))")
                    }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    consumed = 12
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw JSONParseError(offset: index, reason: "lone low surrogate \\u\(hex4(scalar))")
                }
                appendUTF8(scalar)
                index += consumed
                continue
            default:
                throw JSONParseError(
                    offset: index,
                    reason:
                        "invalid escape '\\\(printable(escape))' (accepted: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)")
            }
            index += 2
        }
        throw JSONParseError(offset: position, reason: "unterminated string")
    }

    private func readHex4(at offset: Int) throws(JSONParseError) -> UInt32 {
        guard offset + 4 <= bytes.count else {
            throw JSONParseError(offset: offset - 2, reason: "truncated \\u escape (expected 4 hexadecimal digits)")
        }
        var value: UInt32 = 0
        for i in offset..<(offset + 4) {
            let byte = bytes[i]
            let nibble: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = UInt32(byte - UInt8(ascii: "A") + 10)
            default:
                throw JSONParseError(
                    offset: i, reason: "invalid \\u escape: \(describeByte(at: i)) is not a hexadecimal digit")
            }
            value = value << 4 | nibble
        }
        return value
    }

    private mutating func appendUTF8(_ scalar: UInt32) {
        switch scalar {
        case 0..<0x80:
            scratch.append(UInt8(scalar))
        case 0x80..<0x800:
            scratch.append(UInt8(0xC0 | (scalar >> 6)))
            scratch.append(UInt8(0x80 | (scalar & 0x3F)))
        case 0x800..<0x10000:
            scratch.append(UInt8(0xE0 | (scalar >> 12)))
            scratch.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            scratch.append(UInt8(0x80 | (scalar & 0x3F)))
        default:
            scratch.append(UInt8(0xF0 | (scalar >> 18)))
            scratch.append(UInt8(0x80 | ((scalar >> 12) & 0x3F)))
            scratch.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            scratch.append(UInt8(0x80 | (scalar & 0x3F)))
        }
    }

    // MARK: numbers

    private mutating func parseNumber() throws(JSONParseError) -> Builder.Node {
        let start = position
        var index = position
        let negative = bytes[index] == UInt8(ascii: "-")
        if negative {
            index += 1
            if allowNonFinite, index < bytes.count, bytes[index] == UInt8(ascii: "I") {
                position = index
                try expectLiteral("Infinity")
                return Builder.double(-.infinity)
            }
        }
        guard index < bytes.count, isDigit(bytes[index]) else {
            throw JSONParseError(offset: index, reason: "expected a digit after '-'")
        }
        var magnitude: UInt64 = 0
        var overflow = false
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if index < bytes.count, isDigit(bytes[index]) {
                throw JSONParseError(offset: index, reason: "leading zeros are not allowed in numbers")
            }
        } else {
            while index < bytes.count, isDigit(bytes[index]) {
                let digit = UInt64(bytes[index] - UInt8(ascii: "0"))
                let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(digit)
                if o1 || o2 { overflow = true }
                magnitude = sum
                index += 1
            }
        }
        var isInteger = true
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else {
                throw JSONParseError(offset: index, reason: "expected a digit after the decimal point")
            }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            guard index < bytes.count, isDigit(bytes[index]) else {
                throw JSONParseError(offset: index, reason: "expected a digit in the exponent")
            }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        position = index
        let slice = UnsafeBufferPointer(rebasing: bytes[start..<index])
        if isInteger {
            if !overflow {
                if !negative, magnitude <= UInt64(Int64.max) { return Builder.int(Int64(magnitude)) }
                if negative, magnitude <= UInt64(Int64.max) + 1 {
                    return Builder.int(magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude))
                }
            }
            return Builder.bigInt(String(decoding: slice, as: UTF8.self))
        }
        guard let value = Double(String(decoding: slice, as: UTF8.self)) else {
            throw JSONParseError(offset: start, reason: "number out of range")
        }
        return Builder.double(value)
    }

    // MARK: helpers

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let count = literal.utf8CodeUnitCount
        let expected = UnsafeBufferPointer(start: literal.utf8Start, count: count)
        for i in 0..<count {
            guard position + i < bytes.count, bytes[position + i] == expected[i] else {
                throw JSONParseError(offset: position + i, reason: "invalid literal, expected '\(literal)'")
            }
        }
        position += count
    }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    private func fail(_ reason: String) -> JSONParseError {
        JSONParseError(offset: position, reason: reason)
    }

    private func describeByte(at offset: Int) -> String {
        guard offset < bytes.count else { return "end of input" }
        let byte = bytes[offset]
        if byte >= 0x20, byte < 0x7F { return "'\(printable(byte))'" }
        return "byte \(hexByte(byte))"
    }

    private func printable(_ byte: UInt8) -> String {
        byte >= 0x20 && byte < 0x7F ? String(UnicodeScalar(byte)) : hexByte(byte)
    }

    private func hexByte(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return "0x\(digits[Int(byte >> 4)])\(digits[Int(byte & 0xF)])"
    }

    private func hex4(_ value: UInt32) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 4 - text.count)) + text
    }

    /// Where in `slice` the first invalid UTF-8 sequence starts (for the error offset).
    private func invalidUTF8Offset(_ slice: UnsafeBufferPointer<UInt8>) -> Int {
        var decoder = UTF8()
        var iterator = slice.makeIterator()
        var offset = 0
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                offset += UTF8.width(scalar)
            case .emptyInput, .error:
                return offset
            }
        }
    }
}
