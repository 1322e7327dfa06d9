import Testing

@testable import ShunterCore

@Suite struct JSONParserTests {
    @Test func parsesScalarsKeepingIntegersApartFromFloats() throws {
        #expect(try JSONParser.parse("1") == .int(1))
        #expect(try JSONParser.parse("1.0") == .double(1.0))
        #expect(try JSONParser.parse("1e2") == .double(100))
        #expect(try JSONParser.parse("-0") == .int(0))
        #expect(try JSONParser.parse("9223372036854775807") == .int(.max))
        #expect(try JSONParser.parse("-9223372036854775808") == .int(.min))
        #expect(try JSONParser.parse("9223372036854775808") == .bigInt("9223372036854775808"))
        #expect(try JSONParser.parse("-123456789012345678901234567890") == .bigInt("-123456789012345678901234567890"))
        #expect(try JSONParser.parse(" true ") == .bool(true))
        #expect(try JSONParser.parse("null") == .null)
        #expect(try JSONParser.parse("0.1") == .double(0.1))
        #expect(try JSONParser.parse("1.7976931348623157e308") == .double(.greatestFiniteMagnitude))
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        let value = try JSONParser.parse(#""a\"b\\c\/d\b\f\n\r\t\u00e9\u65e5\ud83d\ude00""#)
        #expect(value == .string("a\"b\\c/d\u{8}\u{c}\n\r\t\u{e9}\u{65e5}\u{1F600}"))
        #expect(try JSONParser.parse("\"caf\u{e9} \u{1F600}\"") == .string("caf\u{e9} \u{1F600}"))
    }

    @Test func parsesNestedStructuresAndLastDuplicateKeyWins() throws {
        let value = try JSONParser.parse(#"{"a": [1, {"b": null}], "c": {}, "a2": [], "d": 1, "d": 2}"#)
        #expect(
            value
                == .object([
                    "a": .array([.int(1), .object(["b": .null])]), "c": .object([:]), "a2": .array([]), "d": .int(2),
                ]))
    }

    @Test(arguments: [
        ("", 0, "end of input"),
        ("{\"a\" 1}", 5, "expected ':'"),
        ("[1, 2", 5, "inside an array"),
        ("[1,]", 3, "expected a value"),
        ("01", 1, "leading zeros"),
        ("1.", 2, "decimal point"),
        ("1e", 2, "exponent"),
        ("-", 1, "digit after '-'"),
        ("\"abc", 0, "unterminated"),
        ("\"a\u{01}b\"", 2, "control character"),
        ("\"\\x\"", 1, "invalid escape"),
        ("\"\\ud800\"", 1, "high surrogate"),
        ("\"\\udc00\"", 1, "lone low surrogate"),
        ("\"\\u12G4\"", 5, "hexadecimal"),
        ("tru", 3, "literal"),
        ("NaN", 0, "expected a value"),
        ("{} x", 3, "after the end"),
        ("{1: 2}", 1, "string as object key"),
    ])
    func refusesMalformedInputWithItsByteOffset(input: String, offset: Int, reason: String) {
        #expect {
            _ = try JSONParser.parse(input)
        } throws: { error in
            guard let error = error as? JSONParseError else { return false }
            return error.offset == offset && error.reason.contains(reason)
        }
    }

    @Test func refusesInvalidUTF8AtTheBadByte() {
        let input: [UInt8] = [0x22, 0x61, 0xC3, 0x28, 0x22]
        #expect(throws: JSONParseError(offset: 2, reason: "invalid UTF-8 in string")) { try JSONParser.parse(input) }
    }

    @Test func refusesExcessiveNesting() {
        let deep = String(repeating: "[", count: 2000) + String(repeating: "]", count: 2000)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(deep) }
        let fine = String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000)
        #expect((try? JSONParser.parse(fine)) != nil)
    }

    @Test func pythonModeAcceptsNonFiniteLiteralsAndKeepsKeyOrder() throws {
        let value = try JSONParser.parsePython(Array(#"{"z": NaN, "a": [Infinity, -Infinity]}"#.utf8))
        guard case .dict(let pairs) = value else {
            Issue.record("expected a dict, got \(value)")
            return
        }
        #expect(pairs.map(\.0) == ["z", "a"])
        guard case .float(let nan) = pairs[0].1, case .list(let items) = pairs[1].1,
            case .float(let inf) = items[0], case .float(let negInf) = items[1]
        else {
            Issue.record("unexpected shape \(pairs)")
            return
        }
        #expect(nan.isNaN && inf == .infinity && negInf == -.infinity)
    }
}
