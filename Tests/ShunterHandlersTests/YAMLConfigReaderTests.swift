import Testing

@testable import ShunterHandlers

@Suite struct YAMLConfigReaderTests {
    @Test func keepsLineAndColumnOfEveryNode() throws {
        let yaml = """
            name: x
            match:
              language: [bash, sh]
            n: 3
            """
        let document = try YAMLConfigReader.document(yaml: yaml, file: "f.yaml")
        let root = try #require(document.root)
        #expect(root.location == SourceLocation(file: "f.yaml", line: 1, column: 1))
        let name = try #require(root["name"])
        #expect(name == .string("x", name.location))
        #expect(name.location.description == "f.yaml:1:7")
        #expect(document.keyLocation(of: name).description == "f.yaml:1:1")
        let languages = try #require(root["match"]?["language"])
        guard case .list(let items, let at) = languages else {
            Issue.record("language is not a list: \(languages)")
            return
        }
        #expect(at.description == "f.yaml:3:13")
        #expect(items.map(\.location.column) == [14, 20])
        #expect(document.keyLocation(of: languages).description == "f.yaml:3:3")
        #expect(root["n"]?.location.description == "f.yaml:4:4")
    }

    @Test func typesPlainScalarsByYAML12CoreRulesOnly() throws {
        let yaml = """
            a: true
            b: no
            c: 42
            d: 1.5
            e: ~
            f: "42"
            g: 1:30
            h: on
            i: 0x1F
            j: nan
            k:
            """
        let root = try #require(try YAMLConfigReader.read(yaml: yaml, file: "t.yaml"))
        let here = SourceLocation(file: "t.yaml", line: 0, column: 0)
        #expect(root["a"] == .bool(true, here))
        #expect(root["b"] == .string("no", here)) // not the YAML 1.1 boolean
        #expect(root["c"] == .int(42, here))
        #expect(root["d"] == .double(1.5, here))
        #expect(root["e"] == .null(here))
        #expect(root["f"] == .string("42", here)) // quoted stays text
        #expect(root["g"] == .string("1:30", here)) // not sexagesimal 90
        #expect(root["h"] == .string("on", here))
        #expect(root["i"] == .int(31, here))
        #expect(root["j"] == .string("nan", here))
        #expect(root["k"] == .null(here))
    }

    @Test func emptyDocumentIsNil() throws {
        #expect(try YAMLConfigReader.read(yaml: "# only a comment\n", file: "e.yaml") == nil)
    }

    @Test func syntaxErrorCarriesFileLineColumn() {
        let yaml = "name: a\nmatch: [bash\nlimits: 3\n"
        #expect {
            _ = try YAMLConfigReader.read(yaml: yaml, file: "bad.yaml")
        } throws: { error in
            guard let error = error as? ConfigError else { return false }
            return error.file == "bad.yaml" && error.line == 3 && error.column == 7
                && error.description == "bad.yaml:3:7: YAML syntax error: did not find expected ',' or ']'"
                    + " (while parsing a flow sequence at line 2, column 8)"
        }
    }

    @Test func tabIndentationIsASyntaxErrorWithPlace() {
        let yaml = "name: a\nmatch:\n\tlanguage: bash\n"
        #expect {
            _ = try YAMLConfigReader.read(yaml: yaml, file: "tab.yaml")
        } throws: { error in
            guard let error = error as? ConfigError else { return false }
            return error.description
                == "tab.yaml:3:1: YAML syntax error: found character that cannot start any token"
                + " (while scanning for the next token at line 3, column 1); a tab cannot indent YAML, use spaces"
        }
    }

    @Test func duplicateKeyPointsAtTheRepeat() {
        let yaml = "name: a\nplugin: bash\nname: b\n"
        #expect {
            _ = try YAMLConfigReader.read(yaml: yaml, file: "dup.yaml")
        } throws: { error in
            guard let error = error as? ConfigError else { return false }
            return error.description
                == "dup.yaml:3:1: duplicate key 'name' (first written at line 1); each key may appear once"
        }
    }

    @Test func nestedDuplicateKeyPointsAtTheRepeat() {
        let yaml = "name: a\nlimits:\n  max_jobs: 1\n  timeout: 1h\n  max_jobs: 2\n"
        #expect {
            _ = try YAMLConfigReader.read(yaml: yaml, file: "dup.yaml")
        } throws: { error in
            (error as? ConfigError)?.location.description == "dup.yaml:5:3"
        }
    }

    @Test func missingFileIsAnErrorAtTheFile() {
        #expect {
            _ = try YAMLConfigReader.read(file: "/nonexistent/shunter/x.yaml")
        } throws: { error in
            (error as? ConfigError)?.description == "/nonexistent/shunter/x.yaml: cannot read file: no such file"
        }
    }

    /// Nine levels of nine aliases stand for 9^9 values in 300-odd bytes; read into a tree,
    /// they took seconds and gigabytes, deeper ones without end. Refused at the first anchor,
    /// before anything is expanded. (Six levels here, with the last as a mapping key, which
    /// the YAML library hashes in full: before the refusal this read half a million values
    /// and returned them.)
    @Test func aliasBombIsRefusedAtItsFirstAnchor() {
        var yaml = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        let names = ["a", "b", "c", "d", "e", "f"]
        for (previous, name) in zip(names, names.dropFirst()) {
            yaml += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ", ") + "]\n"
        }
        yaml += "? *f\n: key\n"
        let error = #expect(throws: ConfigError.self) { try YAMLConfigReader.document(yaml: yaml, file: "bomb.yaml") }
        #expect(error?.location == SourceLocation(file: "bomb.yaml", line: 1, column: 4))
        #expect(
            error?.message.hasPrefix("YAML anchor '&a': anchors and aliases are not accepted") == true,
            "\(error?.message ?? "")")
    }

    @Test func anAliasIsRefusedWhereItIsWritten() {
        // An alias of no anchor: found at its place all the same.
        let yaml = "x: [1, 2]\ny: *x\n"
        let error = #expect(throws: ConfigError.self) { try YAMLConfigReader.document(yaml: yaml, file: "f.yaml") }
        #expect(error?.description.hasPrefix("f.yaml:2:4: YAML alias '*x'") == true, "\(error?.description ?? "")")
    }

    @Test func starsAndAmpersandsInsideValuesAreNoAliases() throws {
        let yaml = """
            image: "*:latest"
            command: echo a && echo *b
            patterns: ['*', "rpbs/*"]
            text: |
              * a list item
              &not an anchor
            """ + "\n"
        let root = try #require(try YAMLConfigReader.document(yaml: yaml, file: "f.yaml").root)
        let here = SourceLocation(file: "f.yaml", line: 1, column: 1)
        #expect(root["command"] == .string("echo a && echo *b", here))
        #expect(root["image"] == .string("*:latest", here))
        #expect(root["text"] == .string("* a list item\n&not an anchor\n", here))
    }
}
