import Foundation
import Yams

/// Turns YAML text into a `ConfigValue` tree that remembers where every node was written.
///
/// Plain scalars are typed by a deliberately small rule set (YAML 1.2 core, not Yams' 1.1
/// default): only `true`/`false` are booleans, so `language: no` or `partition: on` stay
/// strings, and `1:30` stays a string instead of becoming the sexagesimal integer 90.
/// Quoted scalars are always strings.
package enum YAMLConfigReader {
    /// Parses one YAML document. An empty document (or one holding only comments) is nil.
    package static func read(yaml: String, file: String) throws(ConfigError) -> ConfigValue? {
        try document(yaml: yaml, file: file).root
    }

    /// Reads a file; a missing or unreadable file is a `ConfigError` at line 0.
    package static func read(file path: String) throws(ConfigError) -> ConfigValue? {
        try document(file: path).root
    }

    /// Parses one YAML document, keeping where each mapping key was written too.
    package static func document(yaml: String, file: String) throws(ConfigError) -> ConfigDocument {
        if let found = YAMLAliasScan.first(in: yaml) {
            throw ConfigError(
                "YAML \(found.isAlias ? "alias '*" : "anchor '&")\(found.name)': anchors and aliases are not accepted "
                    + "in Shunter's configuration files (an alias can stand for billions of values); "
                    + "write the value out in full where it is used",
                at: SourceLocation(file: file, line: found.line, column: found.column))
        }
        let root: Node?
        do {
            // The basic resolver tags every scalar as a string; `scalarValue` types them.
            root = try Yams.compose(yaml: yaml, .basic)
        } catch let error as YamlError {
            throw configError(from: error, yaml: yaml, file: file)
        } catch {
            throw ConfigError("cannot parse YAML: \(error)", at: SourceLocation(file: file, line: 0, column: 0))
        }
        guard let root else { return ConfigDocument(root: nil, keyLocations: [:]) }
        var keys: [SourceLocation: SourceLocation] = [:]
        let value = try value(of: root, file: file, keys: &keys)
        return ConfigDocument(root: value, keyLocations: keys)
    }

    package static func document(file path: String) throws(ConfigError) -> ConfigDocument {
        let bytes: [UInt8]
        do {
            bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw ConfigError(
                "cannot read file: \(readableReason(error))", at: SourceLocation(file: path, line: 0, column: 0))
        }
        if let bad = firstInvalidUTF8(in: bytes) {
            throw ConfigError(
                "not UTF-8 text: byte 0x\(String(bytes[bad.offset], radix: 16, uppercase: true)) is invalid UTF-8; "
                    + "a config or handler file must be YAML written in UTF-8",
                at: SourceLocation(file: path, line: bad.line, column: bad.column))
        }
        return try document(yaml: String(decoding: bytes, as: UTF8.self), file: path)
    }

    /// Where the first byte that is not part of valid UTF-8 stands (1-based line and column,
    /// counted in bytes), or nil when all of `bytes` is UTF-8. NUL bytes count as invalid: YAML
    /// does not allow them and they end C strings in the parser.
    static func firstInvalidUTF8(in bytes: [UInt8]) -> (offset: Int, line: Int, column: Int)? {
        var index = 0
        var line = 1
        var lineStart = 0
        while index < bytes.count {
            let lead = bytes[index]
            let length: Int
            switch lead {
            case 0x01...0x7F: length = 1
            case 0xC2...0xDF: length = 2
            case 0xE0...0xEF: length = 3
            case 0xF0...0xF4: length = 4
            default: return (index, line, index - lineStart + 1)
            }
            guard index + length <= bytes.count else { return (index, line, index - lineStart + 1) }
            for next in bytes[(index + 1)..<(index + length)] where next & 0xC0 != 0x80 {
                return (index, line, index - lineStart + 1)
            }
            // Overlong forms and surrogates, which the lead byte alone does not rule out.
            if length == 3 {
                let second = bytes[index + 1]
                if (lead == 0xE0 && second < 0xA0) || (lead == 0xED && second > 0x9F) {
                    return (index, line, index - lineStart + 1)
                }
            } else if length == 4 {
                let second = bytes[index + 1]
                if (lead == 0xF0 && second < 0x90) || (lead == 0xF4 && second > 0x8F) {
                    return (index, line, index - lineStart + 1)
                }
            }
            if lead == 0x0A {
                line += 1
                lineStart = index + 1
            }
            index += length
        }
        return nil
    }

    private static func readableReason(_ error: any Error) -> String {
        let nsError = error as NSError
        if nsError.domain == NSCocoaErrorDomain,
            nsError.code == NSFileReadNoSuchFileError || nsError.code == 260
        {
            return "no such file"
        }
        return nsError.localizedDescription
    }

    private static func location(_ mark: Mark?, _ file: String) -> SourceLocation {
        SourceLocation(file: file, line: mark?.line ?? 0, column: mark?.column ?? 0)
    }

    private static func value(
        of node: Node, file: String, keys: inout [SourceLocation: SourceLocation]
    ) throws(ConfigError) -> ConfigValue {
        let at = location(node.mark, file)
        switch node {
        case .scalar(let scalar):
            return scalarValue(scalar, at: at)
        case .sequence(let sequence):
            var items: [ConfigValue] = []
            for item in sequence {
                items.append(try value(of: item, file: file, keys: &keys))
            }
            return .list(items, at)
        case .mapping(let mapping):
            var entries: [(key: String, value: ConfigValue)] = []
            for (keyNode, valueNode) in mapping {
                guard case .scalar(let keyScalar) = keyNode else {
                    throw ConfigError(
                        "a key must be a plain word, not a list or mapping", at: location(keyNode.mark, file))
                }
                let entry = try value(of: valueNode, file: file, keys: &keys)
                keys[entry.location] = location(keyNode.mark, file)
                entries.append((keyScalar.string, entry))
            }
            return .map(entries, at)
        case .alias(let alias):
            // Refused before composing (`YAMLAliasScan`); one surviving here has no target.
            throw ConfigError("unresolved YAML alias '\(alias.anchor)'", at: at)
        }
    }

    static func scalarValue(_ scalar: Node.Scalar, at: SourceLocation) -> ConfigValue {
        let text = scalar.string
        guard scalar.style == .plain || scalar.style == .any else { return .string(text, at) }
        switch text {
        case "", "~", "null", "Null", "NULL": return .null(at)
        case "true", "True", "TRUE": return .bool(true, at)
        case "false", "False", "FALSE": return .bool(false, at)
        default: break
        }
        if let int = integer(text) { return .int(int, at) }
        if looksNumeric(text), let double = Double(text.replacingOccurrences(of: "_", with: "")) {
            return .double(double, at)
        }
        return .string(text, at)
    }

    private static func integer(_ text: String) -> Int? {
        var body = Substring(text)
        var sign = 1
        if body.first == "-" || body.first == "+" {
            if body.first == "-" { sign = -1 }
            body = body.dropFirst()
        }
        guard let first = body.first, first.isASCII, first.isNumber else { return nil }
        if body.hasPrefix("0x") { return Int(body.dropFirst(2), radix: 16).map { $0 * sign } }
        if body.hasPrefix("0o") { return Int(body.dropFirst(2), radix: 8).map { $0 * sign } }
        return Int(body, radix: 10).map { $0 * sign }
    }

    /// Guards `Double(...)`, which would also accept words such as `nan` and `infinity`.
    private static func looksNumeric(_ text: String) -> Bool {
        let body = text.drop { $0 == "-" || $0 == "+" }
        guard let first = body.first else { return false }
        return (first.isASCII && first.isNumber) || (first == "." && body.dropFirst().first?.isNumber == true)
    }

    /// Yams reports libyaml's marks (already 1-based); this keeps them and the problem text.
    static func configError(from error: YamlError, yaml: String, file: String) -> ConfigError {
        func at(_ mark: Mark) -> SourceLocation { SourceLocation(file: file, line: mark.line, column: mark.column) }
        func contextText(_ context: YamlError.Context?) -> String {
            guard let context else { return "" }
            return " (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
        }
        switch error {
        case .scanner(let context, let problem, let mark, _),
            .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            return ConfigError(
                "YAML syntax error: \(problem)\(contextText(context))\(tabHint(yaml, mark))", at: at(mark))
        case .reader(let problem, let offset, _, _):
            let (line, column) = offset.map { lineAndColumn(ofCharacterOffset: $0, in: yaml) } ?? (0, 0)
            return ConfigError(
                "cannot read YAML text: \(problem)", at: SourceLocation(file: file, line: line, column: column))
        case .duplicatedKeysInMapping(let duplicates, let context):
            return duplicateKeyError(duplicates: duplicates, firstMark: context.mark, yaml: yaml, file: file)
        default:
            return ConfigError("cannot parse YAML: \(error)", at: SourceLocation(file: file, line: 0, column: 0))
        }
    }

    /// libyaml's word for a tab used as indentation is obscure; say it plainly.
    private static func tabHint(_ yaml: String, _ mark: Mark) -> String {
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
        guard mark.line >= 1, mark.line <= lines.count else { return "" }
        let line = lines[mark.line - 1]
        let index = line.unicodeScalars.index(
            line.unicodeScalars.startIndex, offsetBy: mark.column - 1, limitedBy: line.unicodeScalars.endIndex)
        guard let index, index < line.unicodeScalars.endIndex, line.unicodeScalars[index] == "\t" else { return "" }
        return "; a tab cannot indent YAML, use spaces"
    }

    /// Yams points at the first occurrence; the place to fix is usually the repeat, so look
    /// for it on a later line at the same indentation (block mappings, the common case).
    private static func duplicateKeyError(
        duplicates: [String], firstMark: Mark, yaml: String, file: String
    ) -> ConfigError {
        let key = duplicates.first ?? "?"
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
        if firstMark.line >= 1 {
            for index in firstMark.line..<lines.count {
                let line = lines[index]
                let indent = firstMark.column - 1
                guard line.count > indent else { continue }
                let rest = line.dropFirst(indent)
                let leading = line.prefix(indent)
                if leading.allSatisfy({ $0 == " " || $0 == "-" }), rest.hasPrefix(key),
                    rest.dropFirst(key.count).drop(while: { $0 == " " }).first == ":"
                {
                    return ConfigError(
                        "duplicate key '\(key)' (first written at line \(firstMark.line)); each key may appear once",
                        at: SourceLocation(file: file, line: index + 1, column: firstMark.column))
                }
            }
        }
        return ConfigError(
            "duplicate key '\(key)' in this mapping; each key may appear once",
            at: SourceLocation(file: file, line: firstMark.line, column: firstMark.column))
    }

    private static func lineAndColumn(ofCharacterOffset offset: Int, in text: String) -> (Int, Int) {
        var line = 1
        var column = 1
        for (index, character) in text.enumerated() {
            if index == offset { break }
            if character == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return (line, column)
    }
}

/// A parsed YAML document and the place each mapping key was written.
///
/// `ConfigValue` keeps one place per node; a key is not a node of its own there, so the key
/// places live here, looked up by the place of the key's value.
package struct ConfigDocument: Sendable {
    package var root: ConfigValue?
    package var keyLocations: [SourceLocation: SourceLocation]

    package init(root: ConfigValue?, keyLocations: [SourceLocation: SourceLocation]) {
        self.root = root
        self.keyLocations = keyLocations
    }

    /// Where the key whose value is `value` was written; the value's place if unknown.
    package func keyLocation(of value: ConfigValue) -> SourceLocation {
        keyLocations[value.location] ?? value.location
    }
}
