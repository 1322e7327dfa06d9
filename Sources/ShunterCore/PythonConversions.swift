/// Python's `int(v)`, `float(v)` and `bool(v)` on the values Seamless converts with them.
extension PythonValue {
    struct ConversionError: Error {
        let reason: String
    }

    /// `int(value)`, as `.int` or `.bigInt`.
    func pythonInt() throws(ConversionError) -> PythonValue {
        switch self {
        case .bool(let flag): return .int(flag ? 1 : 0)
        case .int, .bigInt: return self
        case .float(let number):
            if number.isNaN { throw ConversionError(reason: "cannot convert float NaN to integer") }
            if number.isInfinite { throw ConversionError(reason: "cannot convert float infinity to integer") }
            let truncated = number.rounded(.towardZero)
            if let exact = Int64(exactly: truncated) { return .int(exact) }
            if let exact = UInt64(exactly: truncated) { return .bigInt(String(exact)) }
            return .bigInt(PythonValue.exactIntegerText(truncated))
        case .str(let text): return try PythonValue.parseIntLiteral(text)
        case .bytes(let bytes):
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw ConversionError(reason: "the value is not UTF-8 text")
            }
            return try PythonValue.parseIntLiteral(text)
        case .ndarray(let array):
            // numpy 2 converts only 0-d arrays with int()/float() (TypeError otherwise).
            guard array.shape.isEmpty, let scalar = array.singleScalar else {
                throw ConversionError(reason: "only 0-dimensional numeric arrays can be converted to Python scalars")
            }
            return try scalar.pythonInt()
        default:
            throw ConversionError(reason: "int() argument must be a string or a number, not '\(typeName)'")
        }
    }

    /// The exact decimal text of an integral Double beyond 64 bits (Python's `int(float)`).
    static func exactIntegerText(_ value: Double) -> String {
        // value = significand × 2^exponent with an integer significand; double it in base 1e9.
        var limbs: [UInt64] = [value.significandBitPattern | (1 << 52)] // little-endian base 1e9 after normalisation
        var normalized: [UInt64] = []
        var carry = limbs[0]
        while carry > 0 {
            normalized.append(carry % 1_000_000_000)
            carry /= 1_000_000_000
        }
        limbs = normalized
        for _ in 0..<(Int(value.exponent) - 52) {
            var carry: UInt64 = 0
            for index in limbs.indices {
                let doubled = limbs[index] * 2 + carry
                limbs[index] = doubled % 1_000_000_000
                carry = doubled / 1_000_000_000
            }
            if carry > 0 { limbs.append(carry) }
        }
        var text = value < 0 ? "-" : ""
        text += String(limbs.last!)
        for limb in limbs.dropLast().reversed() {
            let part = String(limb)
            text += String(repeating: "0", count: 9 - part.count) + part
        }
        return text
    }

    /// `float(value)`.
    func pythonFloat() throws(ConversionError) -> Double {
        switch self {
        case .bool(let flag): return flag ? 1 : 0
        case .int(let number): return Double(number)
        case .bigInt(let text):
            guard let value = Double(text), value.isFinite else {
                throw ConversionError(reason: "int too large to convert to float")
            }
            return value
        case .float(let number): return number
        case .str(let text): return try PythonValue.parseFloatLiteral(text)
        case .bytes(let bytes):
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw ConversionError(reason: "the value is not UTF-8 text")
            }
            return try PythonValue.parseFloatLiteral(text)
        case .ndarray(let array):
            guard array.shape.isEmpty, let scalar = array.singleScalar else {
                throw ConversionError(reason: "only 0-dimensional numeric arrays can be converted to Python scalars")
            }
            return try scalar.pythonFloat()
        default:
            throw ConversionError(reason: "float() argument must be a string or a real number, not '\(typeName)'")
        }
    }

    /// `bool(value)`: truthiness.
    func pythonBool() throws(ConversionError) -> Bool {
        switch self {
        case .none: return false
        case .bool(let flag): return flag
        case .int(let number): return number != 0
        case .bigInt: return true
        case .float(let number): return number != 0
        case .str(let text): return !text.isEmpty
        case .list(let items): return !items.isEmpty
        case .dict(let pairs): return !pairs.isEmpty
        case .bytes(let bytes): return !bytes.isEmpty
        case .ndarray(let array):
            guard let scalar = array.singleScalar else {
                throw ConversionError(
                    reason:
                        "The truth value of an array with more than one element is ambiguous (or the dtype is not numeric)"
                )
            }
            return try scalar.pythonBool()
        }
    }

    /// Python's `str.strip()` whitespace (ASCII and Unicode spaces).
    private static func stripPython(_ text: String) -> Substring {
        let isSpace: (Character) -> Bool = { $0.isWhitespace }
        var result = Substring(text)
        while let first = result.first, isSpace(first) { result = result.dropFirst() }
        while let last = result.last, isSpace(last) { result = result.dropLast() }
        return result
    }

    /// Removes single underscores between digits, as Python number literals allow; nil when an
    /// underscore is misplaced.
    private static func removeUnderscores(_ text: Substring) -> String? {
        guard text.contains("_") else { return String(text) }
        let characters = Array(text)
        var out = ""
        for (index, character) in characters.enumerated() {
            if character == "_" {
                guard index > 0, index + 1 < characters.count, characters[index - 1].isASCIIDigitLike,
                    characters[index + 1].isASCIIDigitLike
                else { return nil }
                continue
            }
            out.append(character)
        }
        return out
    }

    /// `int(text)` in base 10: surrounding whitespace, a sign, digits with single underscores.
    static func parseIntLiteral(_ text: String) throws(ConversionError) -> PythonValue {
        let invalid = ConversionError(reason: "invalid literal for int() with base 10: \(text.debugDescription)")
        var body = stripPython(text)
        var negative = false
        if let sign = body.first, sign == "+" || sign == "-" {
            negative = sign == "-"
            body = body.dropFirst()
        }
        guard !body.isEmpty, body.first != "_", let digits = removeUnderscores(body),
            !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 })
        else { throw invalid }
        let trimmed = digits.drop(while: { $0 == "0" })
        if trimmed.isEmpty { return .int(0) }
        let signed = (negative ? "-" : "") + trimmed
        if let value = Int64(signed) { return .int(value) }
        return .bigInt(signed)
    }

    /// `float(text)`: decimal literals (with underscores), `inf`, `infinity`, `nan` in any case.
    static func parseFloatLiteral(_ text: String) throws(ConversionError) -> Double {
        let invalid = ConversionError(reason: "could not convert string to float: \(text.debugDescription)")
        let body = stripPython(text)
        var unsigned = body
        var negative = false
        if let sign = unsigned.first, sign == "+" || sign == "-" {
            negative = sign == "-"
            unsigned = unsigned.dropFirst()
        }
        switch unsigned.lowercased() {
        case "inf", "infinity": return negative ? -.infinity : .infinity
        case "nan": return .nan
        default: break
        }
        guard let cleaned = removeUnderscores(unsigned), !cleaned.isEmpty,
            cleaned.utf8.allSatisfy({
                ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E || $0 == 0x65 || $0 == 0x45 || $0 == 0x2B || $0 == 0x2D
            }),
            cleaned.utf8.contains(where: { $0 >= 0x30 && $0 <= 0x39 }),
            let value = Double(cleaned)
        else { throw invalid }
        return negative ? -value : value
    }
}

extension Character {
    fileprivate var isASCIIDigitLike: Bool { isASCII && isNumber }
}
