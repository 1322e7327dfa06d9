import Testing

@testable import ShunterHandlers

/// The one reader of plugin and backend option sections: its rule for absent and null values,
/// and each getter's accepted values and messages, read from real YAML so that every message's
/// file:line:column is the one an admin would be pointed at.
@Suite struct OptionReaderTests {
    static let keys = [
        "text", "who", "flag", "count", "cpus", "wait", "memory", "mode", "args", "nested", "unset", "tilde", "null",
    ]

    /// The `opts:` section of `yaml`, a handler file named `h.yaml`.
    func reader(_ yaml: String, accepted: [String] = keys) throws -> OptionReader {
        let root = try #require(try YAMLConfigReader.document(yaml: yaml, file: "h.yaml").root)
        let handler = HandlerConfig(
            name: "h", plugin: "p", backend: "b", options: root["opts"].map { ["opts": $0] } ?? [:],
            source: SourceLocation(file: "h.yaml", line: 1, column: 1))
        return try OptionReader(section: "opts", of: handler, accepted: accepted)
    }

    /// The message of the `ConfigError` `body` throws, nil when it throws none.
    func message(_ body: () throws -> Any?) -> String? {
        do {
            _ = try body()
            return nil
        } catch let error as ConfigError {
            return error.description
        } catch {
            return "not a ConfigError: \(error)"
        }
    }

    enum Mode: String, CaseIterable {
        case fast
        case slow
    }

    @Test("an absent or null section, and an absent or null key, set nothing: every getter gives nil")
    func absentAndNullAreTheSame() throws {
        let cases = [
            "other: 1\n",
            "opts:\n",
            "opts: null\n",
            "opts: ~\n",
            "opts: {}\n",
            "opts:\n  text:\n  who: null\n  flag: ~\n  count:\n  cpus:\n  wait:\n  memory:\n  mode:\n  args:\n  nested:\n",
        ]
        for yaml in cases {
            let options = try reader(yaml)
            #expect(try options.string("text") == nil, "\(yaml)")
            #expect(try options.nameOrNumber("who") == nil, "\(yaml)")
            #expect(try options.bool("flag") == nil, "\(yaml)")
            #expect(try options.int("count", atLeast: 1) == nil, "\(yaml)")
            #expect(try options.number("cpus", above: 0, atMost: 8) == nil, "\(yaml)")
            #expect(try options.duration("wait", positive: true) == nil, "\(yaml)")
            #expect(try options.size("memory") == nil, "\(yaml)")
            #expect(try options.choice("mode", as: Mode.self) == nil, "\(yaml)")
            #expect(try options.stringList("args") == nil, "\(yaml)")
            #expect(try options.section("nested", accepted: ["a"]) == nil, "\(yaml)")
            #expect(options.value("text") == nil, "\(yaml)")
        }
    }

    @Test("a section that is not a mapping is refused at its place")
    func sectionMustBeAMapping() throws {
        #expect(message { try reader("opts: 5\n") } == "h.yaml:1:7: 'opts' must be a mapping, got the number 5")
        #expect(message { try reader("opts: [a]\n") } == "h.yaml:1:7: 'opts' must be a mapping, got a list")
    }

    @Test("a key the component does not declare is refused, with the accepted keys and a did-you-mean")
    func unknownKey() throws {
        #expect(
            message { try reader("opts:\n  flag: true\n  cont: 3\n", accepted: ["count", "flag"]) }
                == "h.yaml:3:9: unknown key 'cont' in section 'opts'; accepted keys: count, flag (did you mean 'count'?)"
        )
        // Null or not, a key must be one of the component's.
        #expect(
            message { try reader("opts:\n  cuont:\n", accepted: ["count"]) }?.hasPrefix(
                "h.yaml:2:9: unknown key 'cuont'") == true)
    }

    @Test("text: one line, not empty, not another kind of value")
    func string() throws {
        let options = try reader(
            "opts:\n  text: /bin/bash\n  who: 5\n  flag: \"\"\n  count: \"a\\nb\"\n", accepted: Self.keys)
        #expect(try options.string("text") == "/bin/bash")
        #expect(message { try options.string("who") } == "h.yaml:3:8: 'opts.who' must be text, got the number 5")
        #expect(message { try options.string("flag") } == "h.yaml:4:9: 'opts.flag' must not be empty")
        #expect(
            message { try options.string("count") }
                == "h.yaml:5:10: 'opts.count' must be text on one line, without line breaks or NUL characters")
    }

    @Test("a name or a number: a uid written bare is its decimal text")
    func nameOrNumber() throws {
        #expect(try reader("opts: {who: nobody}\n").nameOrNumber("who") == "nobody")
        #expect(try reader("opts: {who: 65534}\n").nameOrNumber("who") == "65534")
        #expect(
            message { try reader("opts: {who: -1}\n").nameOrNumber("who") }
                == "h.yaml:1:13: 'opts.who' must be a name or a number of at least 0, got -1")
        #expect(
            message { try reader("opts: {who: true}\n").nameOrNumber("who") }
                == "h.yaml:1:13: 'opts.who' must be a name or a number, got the boolean true")
    }

    @Test("booleans are true and false only: maybe, yes and 1 are refused")
    func bool() throws {
        #expect(try reader("opts: {flag: false}\n").bool("flag") == false)
        #expect(try reader("opts: {flag: true}\n").bool("flag") == true)
        #expect(
            message { try reader("opts:\n  flag: maybe\n").bool("flag") }
                == "h.yaml:2:9: 'opts.flag' must be true or false, got the text 'maybe'")
        #expect(
            message { try reader("opts: {flag: yes}\n").bool("flag") }
                == "h.yaml:1:14: 'opts.flag' must be true or false, got the text 'yes'")
        #expect(
            message { try reader("opts: {flag: 1}\n").bool("flag") }
                == "h.yaml:1:14: 'opts.flag' must be true or false, got the number 1")
    }

    @Test("whole numbers within their range")
    func int() throws {
        #expect(try reader("opts: {count: 4}\n").int("count", atLeast: 1) == 4)
        #expect(try reader("opts: {count: 64}\n").int("count", atLeast: 1, atMost: 64) == 64)
        #expect(
            message { try reader("opts: {count: 0}\n").int("count", atLeast: 1) }
                == "h.yaml:1:15: 'opts.count' must be a whole number of at least 1, got 0")
        #expect(
            message { try reader("opts: {count: 65}\n").int("count", atLeast: 1, atMost: 64) }
                == "h.yaml:1:15: 'opts.count' must be a whole number from 1 to 64, got 65")
        #expect(
            message { try reader("opts: {count: 65}\n").int("count", atMost: 64) }
                == "h.yaml:1:15: 'opts.count' must be a whole number of at most 64, got 65")
        #expect(
            message { try reader("opts: {count: 1.5}\n").int("count") }
                == "h.yaml:1:15: 'opts.count' must be a whole number, got the number 1.5")
        #expect(
            message { try reader("opts: {count: four}\n").int("count") }
                == "h.yaml:1:15: 'opts.count' must be a whole number, got the text 'four'")
    }

    @Test("numbers, whole or not, above the lower bound and at most the upper one")
    func number() throws {
        #expect(try reader("opts: {cpus: 0.5}\n").number("cpus", above: 0, atMost: 8) == 0.5)
        #expect(try reader("opts: {cpus: 8}\n").number("cpus", above: 0, atMost: 8) == 8)
        #expect(
            message { try reader("opts: {cpus: 0}\n").number("cpus", above: 0, atMost: 8) }
                == "h.yaml:1:14: 'opts.cpus' must be greater than 0 and at most 8, got the number 0")
        #expect(
            message { try reader("opts: {cpus: 9}\n").number("cpus", above: 0, atMost: 8) }
                == "h.yaml:1:14: 'opts.cpus' must be greater than 0 and at most 8, got the number 9")
        #expect(
            message { try reader("opts: {cpus: many}\n").number("cpus", above: 0, atMost: 8) }
                == "h.yaml:1:14: 'opts.cpus' must be a number, got the text 'many'")
    }

    @Test("durations: units or seconds, longer than 0 when required, within the maximum")
    func duration() throws {
        #expect(try reader("opts: {wait: 1h30m}\n").duration("wait") == .seconds(5400))
        #expect(try reader("opts: {wait: 90}\n").duration("wait") == .seconds(90))
        #expect(try reader("opts: {wait: 0s}\n").duration("wait") == .zero)
        #expect(
            message { try reader("opts: {wait: 0s}\n").duration("wait", positive: true) }
                == "h.yaml:1:14: 'opts.wait' must be longer than 0s, got the text '0s'")
        #expect(
            message { try reader("opts: {wait: 2d}\n").duration("wait", atMost: .seconds(86_400)) }
                == "h.yaml:1:14: 'opts.wait' must be at most 1d, got the text '2d'")
        #expect(
            message { try reader("opts: {wait: soon}\n").duration("wait") }?
                .hasPrefix("h.yaml:1:14: 'opts.wait' is not a duration: the text 'soon'") == true)
        #expect(
            message { try reader("opts: {wait: [1s]}\n").duration("wait") }?
                .hasPrefix("h.yaml:1:14: 'opts.wait' must be a duration such as 30s") == true)
    }

    @Test("sizes: units K M G T or bytes")
    func size() throws {
        #expect(try reader("opts: {memory: 2G}\n").size("memory") == 2 << 30)
        #expect(try reader("opts: {memory: 1000}\n").size("memory") == 1000)
        #expect(
            message { try reader("opts: {memory: lots}\n").size("memory") }?
                .hasPrefix("h.yaml:1:16: 'opts.memory' is not a size: the text 'lots'") == true)
        #expect(
            message { try reader("opts: {memory: true}\n").size("memory") }
                == "h.yaml:1:16: 'opts.memory' must be a size such as 512M or 2G, got the boolean true")
    }

    @Test("choices: one of the allowed values, listed in the message, with a did-you-mean")
    func choice() throws {
        #expect(try reader("opts: {mode: slow}\n").choice("mode", as: Mode.self) == .slow)
        #expect(try reader("opts: {mode: fast}\n").choice("mode", among: ["fast", "slow"]) == "fast")
        #expect(
            message { try reader("opts: {mode: fas}\n").choice("mode", as: Mode.self) }
                == "h.yaml:1:14: 'opts.mode' cannot be 'fas'; accepted values: fast, slow (did you mean 'fast'?)")
        #expect(
            message { try reader("opts: {mode: 3}\n").choice("mode", as: Mode.self) }
                == "h.yaml:1:14: 'opts.mode' must be one of fast, slow, got the number 3")
    }

    @Test("lists of texts; one text alone is a list of one; a wrong entry is pointed at")
    func stringList() throws {
        #expect(try reader("opts: {args: [--a, --b]}\n").stringList("args") == ["--a", "--b"])
        #expect(try reader("opts: {args: --a}\n").stringList("args") == ["--a"])
        #expect(try reader("opts: {args: []}\n").stringList("args") == [])
        #expect(
            message { try reader("opts:\n  args:\n    - --a\n    - 5\n").stringList("args") }
                == "h.yaml:4:7: 'opts.args entry' must be text, got the number 5")
        #expect(
            message { try reader("opts:\n  args:\n    - --a\n    - \"x\\ny\"\n").stringList("args") }
                == "h.yaml:4:7: 'opts.args entry' must be text on one line, without line breaks or NUL characters")
        #expect(
            message { try reader("opts: {args: {a: 1}}\n").stringList("args") }
                == "h.yaml:1:14: 'opts.args' must be text or a list of texts, got a mapping")
    }

    @Test("a nested section follows the same rules, with its path in messages")
    func nestedSection() throws {
        let options = try reader("opts:\n  nested:\n    mode: fast\n    flag:\n")
        let nested = try #require(try options.section("nested", accepted: ["mode", "flag"]))
        #expect(nested.path == "opts.nested")
        #expect(try nested.choice("mode", as: Mode.self) == .fast)
        #expect(try nested.bool("flag") == nil)
        #expect(
            message { try options.section("nested", accepted: ["flag"]) }?
                .hasPrefix("h.yaml:3:11: unknown key 'mode' in section 'opts.nested'") == true)
        #expect(
            message { try reader("opts: {nested: 5}\n").section("nested", accepted: ["a"]) }
                == "h.yaml:1:16: 'opts.nested' must be a mapping, got the number 5")
    }

    @Test("location(of:) is where the key was set, else the section, else the handler")
    func locations() throws {
        let options = try reader("opts:\n  flag: true\n")
        #expect(options.location(of: "flag") == SourceLocation(file: "h.yaml", line: 2, column: 9))
        #expect(options.location(of: "count") == SourceLocation(file: "h.yaml", line: 2, column: 3))
        #expect(try reader("other: 1\n").location(of: "flag") == SourceLocation(file: "h.yaml", line: 1, column: 1))
    }
}
