import CYaml

/// Finds the first anchor (`&name`) or alias (`*name`) of a YAML text, reading libyaml's event
/// stream: one pass, no tree built, whatever the aliases would expand to.
///
/// Shunter's configuration files refuse anchors and aliases. An alias repeats a whole
/// subtree, so a few hundred bytes of nested aliases stand for billions of nodes (the
/// "billion laughs"); Yams expands them while it composes the document (hashing each alias
/// used as a mapping key in full), before any bound of ours could apply. So they are found
/// here, on the events, before composing. Ruby's `YAML.safe_load` refuses aliases by default
/// the same way; config files lose little (write the value out, or use a handler's option
/// section defaults).
///
/// Yams vendors libyaml as the `CYaml` module; this reads it directly, as Yams' own parser does.
enum YAMLAliasScan {
    struct Found: Equatable {
        var isAlias: Bool
        var name: String
        /// 1-based, as editors count.
        var line: Int
        var column: Int
    }

    /// The first anchor or alias, nil when there is none. A syntax error ends the scan (nil):
    /// composing reports it with its own message.
    static func first(in yaml: String) -> Found? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return nil }
        defer { yaml_parser_delete(&parser) }
        var bytes = Array(yaml.utf8)
        return bytes.withUnsafeMutableBufferPointer { buffer -> Found? in
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else { return nil }
                defer { yaml_event_delete(&event) }
                let anchor: UnsafeMutablePointer<yaml_char_t>?
                var isAlias = false
                switch event.type {
                case YAML_STREAM_END_EVENT: return nil
                case YAML_ALIAS_EVENT:
                    anchor = event.data.alias.anchor
                    isAlias = true
                case YAML_SCALAR_EVENT: anchor = event.data.scalar.anchor
                case YAML_SEQUENCE_START_EVENT: anchor = event.data.sequence_start.anchor
                case YAML_MAPPING_START_EVENT: anchor = event.data.mapping_start.anchor
                default: anchor = nil
                }
                if let anchor {
                    return Found(
                        isAlias: isAlias, name: String(cString: anchor),
                        line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1)
                }
            }
        }
    }
}
