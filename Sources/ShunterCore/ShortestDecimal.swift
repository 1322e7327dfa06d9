/// The shortest decimal digits that round-trip a finite Double, with its decimal exponent.
///
/// Python's `repr(float)` and orjson both print these digits (shortest round-trip, nearest
/// when several are shortest) and differ only in layout, so both layouts are built from this.
/// Swift's `description` computes the same digits; it is parsed here rather than trusted for
/// layout, since Swift switches to exponent notation at other thresholds.
struct ShortestDecimal {
    var negative: Bool
    /// ASCII digits, no leading or trailing zeros ("0" for zero).
    var digits: [UInt8]
    /// Scientific exponent: the value is d₁.d₂d₃… × 10^exponent.
    var exponent: Int

    init(_ value: Double) {
        precondition(value.isFinite)
        negative = value.sign == .minus
        var mantissa: [UInt8] = []
        var pointIndex: Int?
        var explicitExponent = 0
        var exponentSign = 1
        var inExponent = false
        for byte in value.magnitude.description.utf8 {
            switch byte {
            case UInt8(ascii: "e"), UInt8(ascii: "E"): inExponent = true
            case UInt8(ascii: "-") where inExponent: exponentSign = -1
            case UInt8(ascii: "+"): break
            case UInt8(ascii: "."): pointIndex = mantissa.count
            default:
                if inExponent {
                    explicitExponent = explicitExponent * 10 + Int(byte - UInt8(ascii: "0"))
                } else {
                    mantissa.append(byte)
                }
            }
        }
        let integerDigits = pointIndex ?? mantissa.count
        var leading = 0
        while leading < mantissa.count - 1, mantissa[leading] == UInt8(ascii: "0") { leading += 1 }
        var end = mantissa.count
        while end > leading + 1, mantissa[end - 1] == UInt8(ascii: "0") { end -= 1 }
        digits = Array(mantissa[leading..<end])
        if digits == [UInt8(ascii: "0")] {
            exponent = 0
        } else {
            exponent = integerDigits - leading - 1 + exponentSign * explicitExponent
        }
    }

    /// Layout `[-]d.ddd` / `[-]ddd.0` / `[-]0.000ddd` for exponents in the fixed range,
    /// otherwise `[-]d.ddde±X` with the exponent padded to `exponentWidth` digits.
    func format(fixedRange: ClosedRange<Int>, exponentWidth: Int, into out: inout [UInt8]) {
        if negative { out.append(UInt8(ascii: "-")) }
        if fixedRange.contains(exponent) {
            if exponent >= 0 {
                let integerCount = exponent + 1
                for i in 0..<integerCount {
                    out.append(i < digits.count ? digits[i] : UInt8(ascii: "0"))
                }
                out.append(UInt8(ascii: "."))
                if digits.count > integerCount {
                    out.append(contentsOf: digits[integerCount...])
                } else {
                    out.append(UInt8(ascii: "0"))
                }
            } else {
                out.append(UInt8(ascii: "0"))
                out.append(UInt8(ascii: "."))
                for _ in 0..<(-exponent - 1) { out.append(UInt8(ascii: "0")) }
                out.append(contentsOf: digits)
            }
            return
        }
        out.append(digits[0])
        if digits.count > 1 {
            out.append(UInt8(ascii: "."))
            out.append(contentsOf: digits[1...])
        }
        out.append(UInt8(ascii: "e"))
        out.append(exponent < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
        let exponentDigits = Array(String(abs(exponent)).utf8)
        for _ in exponentDigits.count..<max(exponentWidth, exponentDigits.count) { out.append(UInt8(ascii: "0")) }
        out.append(contentsOf: exponentDigits)
    }
}

extension Double {
    /// orjson's float text: fixed notation for decimal exponents -5…15, else `1.5e-7` / `1e+16`.
    func appendOrjsonText(to out: inout [UInt8]) {
        guard isFinite else {
            out.append(contentsOf: "null".utf8)
            return
        }
        ShortestDecimal(self).format(fixedRange: -5...15, exponentWidth: 1, into: &out)
    }

    /// Python's `repr(float)`: fixed notation for decimal exponents -4…15, else `1e-05` / `1e+16`.
    package func appendPythonRepr(to out: inout [UInt8]) {
        if isNaN {
            out.append(contentsOf: "nan".utf8)
        } else if isInfinite {
            out.append(contentsOf: (self < 0 ? "-inf" : "inf").utf8)
        } else {
            ShortestDecimal(self).format(fixedRange: -4...15, exponentWidth: 2, into: &out)
        }
    }

    /// A float as Python's `json.dumps` writes it: `repr` for finite values, `NaN`,
    /// `Infinity` and `-Infinity` (not `repr`'s `nan`, `inf`) otherwise.
    package func appendPythonJSON(to out: inout [UInt8]) {
        if isNaN {
            out.append(contentsOf: "NaN".utf8)
        } else if isInfinite {
            out.append(contentsOf: (self < 0 ? "-Infinity" : "Infinity").utf8)
        } else {
            appendPythonRepr(to: &out)
        }
    }

    var pythonRepr: String {
        var out: [UInt8] = []
        appendPythonRepr(to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
