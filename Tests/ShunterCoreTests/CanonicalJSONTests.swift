import Testing

@testable import ShunterCore

@Suite struct CanonicalJSONTests {
    @Test func matchesOrjsonForEveryVector() throws {
        for vector in canonicalJSONVectors {
            let input = bytes(hex: vector.json)
            // The vectors include 1e400 and duplicate keys, which Python's json.loads accepts.
            let value = try JSONParser.parsePython(input).jsonValue!
            #expect(text(CanonicalJSON.encode(value)) == text(bytes(hex: vector.expected)), "input: \(text(input))")
        }
    }

    @Test func floatsMatchOrjsonAndPythonRepr() {
        #expect(floatVectors.count > 300)
        for vector in floatVectors {
            let value = Double(bitPattern: vector.bits)
            var orjson: [UInt8] = []
            value.appendOrjsonText(to: &orjson)
            #expect(text(orjson) == vector.orjson, "bits \(vector.bits)")
            #expect(value.pythonRepr == vector.pythonRepr, "bits \(vector.bits)")
        }
    }

    @Test func nonFiniteFloatsBecomeNull() {
        #expect(
            text(CanonicalJSON.encode(.array([.double(.nan), .double(.infinity), .double(-.infinity)])))
                == "[\n  null,\n  null,\n  null\n]")
    }

    @Test func compactFormSortsKeys() {
        let value: JSONValue = .object(["b": .array([.int(1), .double(2.5)]), "a": .string("é"), "c": .object([:])])
        #expect(text(CanonicalJSON.encodeCompact(value)) == #"{"a":"é","b":[1,2.5],"c":{}}"#)
    }

    @Test func keysSortByCodePointNotBySwiftStringOrder() {
        // U+FFFF sorts before U+1F600 by code point (and UTF-8), after it in UTF-16.
        let keys = CanonicalJSON.sortedKeys([
            "\u{1F600}": .null, "\u{FFFF}": .null, "a": .null, "Z": .null, "\u{E9}": .null,
        ])
        #expect(keys == ["Z", "a", "\u{E9}", "\u{FFFF}", "\u{1F600}"])
    }

    @Test func roundTripsParseAndSerialize() throws {
        for vector in canonicalJSONVectors {
            let expected = bytes(hex: vector.expected)
            let reparsed = try JSONParser.parse(expected)
            #expect(CanonicalJSON.encode(reparsed) == expected)
        }
    }
}
