import ShunterCore
import Testing

@testable import ShunterStore

/// PythonJSON writes what Python's json.dumps writes (vectors: Vectors/generate_python_json.py).
@Suite struct PythonJSONTests {
    static let floatVectors: [(Double, String)] = [
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (1.0, "1.0"),
        (1.5, "1.5"),
        (-2.25, "-2.25"),
        (0.1, "0.1"),
        (0.0001, "0.0001"),
        (1e-05, "1e-05"),
        (1.5e-07, "1.5e-07"),
        (123456.789, "123456.789"),
        (1000000000000000.0, "1000000000000000.0"),
        (1234567890123456.0, "1234567890123456.0"),
        (1e+16, "1e+16"),
        (1.2345678901234568e+16, "1.2345678901234568e+16"),
        (1e+22, "1e+22"),
        (Double.leastNonzeroMagnitude, "5e-324"),
        (1.7976931348623157e+308, "1.7976931348623157e+308"),
        (2.5e-05, "2.5e-05"),
        (0.30000000000000004, "0.30000000000000004"),
    ]

    @Test(arguments: floatVectors.indices)
    func floatsAsPythonRepr(index: Int) {
        let (value, expected) = Self.floatVectors[index]
        #expect(PythonJSON.dumps(.double(value)) == expected)
    }

    @Test func dumpsLikePythonWithSortedKeys() throws {
        let value = try JSONParser.parse(#"{"b": [1, "\u00e9\n"], "a": null, "c": {"x": true}}"#)
        // python3 -c "import json; print(json.dumps(..., sort_keys=True))"
        #expect(PythonJSON.dumps(value) == #"{"a": null, "b": [1, "\u00e9\n"], "c": {"x": true}}"#)
        // Escapes as `ensure_ascii` writes them, a character outside the BMP as its two
        // UTF-16 units, and non-finite floats as json.dumps (not repr) spells them:
        // python3 -c 'import json; print(json.dumps({"k": "a\"b\\c\n\t\x01\u00e9\U0001F600 ok",
        //     "z": [1.5, -0.0, 1e-7, float("nan")]}, sort_keys=True))'
        let escapes = JSONValue.object([
            "k": .string("a\"b\\c\n\t\u{01}\u{e9}\u{1F600} ok"),
            "z": .array([.double(1.5), .double(-0.0), .double(1e-7), .double(.nan)]),
        ])
        #expect(
            PythonJSON.dumps(escapes)
                == #"{"k": "a\"b\\c\n\t\u0001\u00e9\ud83d\ude00 ok", "z": [1.5, -0.0, 1e-07, NaN]}"#)
        let info = try JSONParser.parse(#"{"length": 5, "is_utf8": true}"#)
        #expect(PythonJSON.dumps(info, indent: 2) == "{\n  \"is_utf8\": true,\n  \"length\": 5\n}")
    }
}
