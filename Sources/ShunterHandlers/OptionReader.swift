/// The option section of a handler's plugin or backend (`bash:`, `docker:`, `slurm:` ...),
/// read with one set of rules by every component:
///
/// - a section that is absent or null (`docker:` with nothing under it) sets nothing;
/// - a key that is absent or null (`memory:`, `memory: null`, `memory: ~`) is not set: the
///   component's default applies;
/// - any other section must be a mapping whose keys are the component's own;
/// - each getter accepts one kind of value and refuses every other with a `ConfigError` at the
///   value's file:line:column that says what was expected and what was written.
///
/// Getters return nil for a key that is not set; a value that is set is either valid or an
/// error, never silently replaced by the default.
package struct OptionReader: Sendable {
    /// How the section is named in messages: `docker`, or `slurm.container` for a nested one.
    package let path: String
    /// Where the section was written (the handler's place when it was not).
    package let location: SourceLocation
    private let entries: [(key: String, value: ConfigValue)]

    /// The section `section` of `handler`, refusing keys outside `accepted`.
    package init(section: String, of handler: HandlerConfig, accepted: some Sequence<String>) throws(ConfigError) {
        try self.init(handler.options[section], path: section, accepted: accepted, absentAt: handler.source)
    }

    /// A section read from `value` (nil or null: an empty one), refusing keys outside `accepted`.
    /// `absentAt` is the place messages about an absent section point at.
    package init(
        _ value: ConfigValue?, path: String, accepted: some Sequence<String>, absentAt: SourceLocation
    ) throws(ConfigError) {
        self.path = path
        switch value {
        case nil, .null?:
            self.location = value?.location ?? absentAt
            self.entries = []
        case .map(let entries, let at)?:
            self.location = at
            let accepted = Array(accepted).sorted()
            if let unknown = entries.first(where: { !accepted.contains($0.key) }) {
                throw ConfigParsing.unknownKey(
                    unknown.key, at: unknown.value.location, context: "in section '\(path)'", accepted: accepted)
            }
            self.entries = entries.filter { if case .null = $0.value { false } else { true } }
        case let other?:
            throw ConfigParsing.wrongType(path, expected: "a mapping", got: other)
        }
    }

    /// The value set for `key`, nil when it is absent or null.
    package func value(_ key: String) -> ConfigValue? {
        entries.first { $0.key == key }?.value
    }

    /// Where `key` was set, or the section's place when it was not.
    package func location(of key: String) -> SourceLocation {
        value(key)?.location ?? location
    }

    private func name(_ key: String) -> String { "\(path).\(key)" }

    // MARK: Getters

    /// Text on one line, not empty.
    package func string(_ key: String) throws(ConfigError) -> String? {
        guard let value = value(key) else { return nil }
        let text = try ConfigParsing.string(value, key: name(key))
        try Self.requireOneLine(text, key: name(key), at: value.location)
        return text
    }

    /// A name, or a whole number taken as its decimal text (`run_as: nobody`, `run_as: 65534`).
    package func nameOrNumber(_ key: String) throws(ConfigError) -> String? {
        guard let value = value(key) else { return nil }
        if case .int(let number, let at) = value {
            guard number >= 0 else {
                throw ConfigError("'\(name(key))' must be a name or a number of at least 0, got \(number)", at: at)
            }
            return String(number)
        }
        guard case .string = value else {
            throw ConfigError(
                "'\(name(key))' must be a name or a number, got \(ConfigParsing.kindName(value))", at: value.location)
        }
        return try string(key)
    }

    /// `true` or `false` (YAML 1.2: `yes`, `no`, `on`, `off` are text, and refused).
    package func bool(_ key: String) throws(ConfigError) -> Bool? {
        try value(key).map { value throws(ConfigError) in try ConfigParsing.bool(value, key: name(key)) }
    }

    /// A whole number between `minimum` and `maximum`.
    package func int(_ key: String, atLeast minimum: Int = .min, atMost maximum: Int = .max) throws(ConfigError) -> Int?
    {
        guard let value = value(key) else { return nil }
        let number = try ConfigParsing.int(value, key: name(key))
        guard number >= minimum, number <= maximum else {
            throw ConfigError(
                "'\(name(key))' must be \(Self.bounds(minimum, maximum)), got \(number)",
                at: value.location)
        }
        return number
    }

    /// A number, whole or not, above `lowerBound` and at most `maximum` (a count of CPUs: a bound
    /// no machine reaches keeps later conversions to whole numbers from trapping).
    package func number(_ key: String, above lowerBound: Double, atMost maximum: Double) throws(ConfigError) -> Double?
    {
        guard let value = value(key) else { return nil }
        let number: Double
        switch value {
        case .int(let whole, _): number = Double(whole)
        case .double(let fraction, _): number = fraction
        default:
            throw ConfigError(
                "'\(name(key))' must be a number, got \(ConfigParsing.kindName(value))", at: value.location)
        }
        guard number.isFinite, number > lowerBound, number <= maximum else {
            throw ConfigError(
                "'\(name(key))' must be greater than \(Self.plain(lowerBound)) and at most \(Self.plain(maximum)), "
                    + "got \(ConfigParsing.kindName(value))",
                at: value.location)
        }
        return number
    }

    /// A duration (`30s`, `5m`, `1h30m`, `1d`, `250ms`, or a number of seconds), longer than 0
    /// when `positive`, and at most `maximum` (never more than `ConfigParsing.duration` accepts).
    package func duration(_ key: String, positive: Bool = false, atMost maximum: Duration? = nil) throws(ConfigError)
        -> Duration?
    {
        guard let value = value(key) else { return nil }
        let duration = try ConfigParsing.duration(value, key: name(key))
        if positive, duration <= .zero {
            throw ConfigError(
                "'\(name(key))' must be longer than 0s, got \(ConfigParsing.kindName(value))", at: value.location)
        }
        if let maximum, duration > maximum {
            throw ConfigError(
                "'\(name(key))' must be at most \(ConfigParsing.format(maximum)), got \(ConfigParsing.kindName(value))",
                at: value.location)
        }
        return duration
    }

    /// A size in bytes (`512M`, `2G`, or a number of bytes).
    package func size(_ key: String) throws(ConfigError) -> Int64? {
        try value(key).map { value throws(ConfigError) in try ConfigParsing.byteSize(value, key: name(key)) }
    }

    /// One of `accepted`, with a did-you-mean for a near miss.
    package func choice(_ key: String, among accepted: [String]) throws(ConfigError) -> String? {
        guard let value = value(key) else { return nil }
        guard case .string(let text, _) = value else {
            throw ConfigError(
                "'\(name(key))' must be one of \(accepted.joined(separator: ", ")), got \(ConfigParsing.kindName(value))",
                at: value.location)
        }
        guard accepted.contains(text) else {
            throw ConfigError.notOneOf(
                "'\(name(key))' cannot be '\(text)'", written: text, accepted: accepted, kind: "values",
                at: value.location)
        }
        return text
    }

    /// One of an enumeration's raw values.
    package func choice<Choice: RawRepresentable & CaseIterable>(_ key: String, as type: Choice.Type)
        throws(ConfigError) -> Choice?
    where Choice.RawValue == String {
        try choice(key, among: Choice.allCases.map(\.rawValue)).flatMap(Choice.init(rawValue:))
    }

    /// A list of texts; one text alone is a list of one (`extra_args: --gpus=all`).
    package func stringList(_ key: String) throws(ConfigError) -> [String]? {
        guard let value = value(key) else { return nil }
        let texts = try ConfigParsing.stringList(value, key: name(key))
        let items: [ConfigValue] = if case .list(let items, _) = value { items } else { [value] }
        for (text, item) in zip(texts, items) {
            try Self.requireOneLine(text, key: "\(name(key)) entry", at: item.location)
        }
        return texts
    }

    /// A section nested under `key` (`slurm.container`), read by the same rules; nil when not set.
    package func section(_ key: String, accepted: some Sequence<String>) throws(ConfigError) -> OptionReader? {
        guard let value = value(key) else { return nil }
        return try OptionReader(value, path: name(key), accepted: accepted, absentAt: value.location)
    }

    // MARK: Messages

    /// Texts become arguments, paths and lines of scripts: a line break or a NUL in one would
    /// be cut off or start a new line where none was meant.
    private static func requireOneLine(_ text: String, key: String, at location: SourceLocation) throws(ConfigError) {
        if text.contains(where: { $0 == "\n" || $0 == "\r" || $0 == "\0" }) {
            throw ConfigError("'\(key)' must be text on one line, without line breaks or NUL characters", at: location)
        }
    }

    /// "a whole number of at least 1", "... from 1 to 64": `Int.min` and `Int.max` mean no bound.
    static func bounds(_ minimum: Int, _ maximum: Int) -> String {
        switch (minimum == .min, maximum == .max) {
        case (false, false): "a whole number from \(minimum) to \(maximum)"
        case (false, true): "a whole number of at least \(minimum)"
        case (true, false): "a whole number of at most \(maximum)"
        case (true, true): "a whole number"
        }
    }

    /// `0`, `1048576`, `0.5`: how a bound reads in a message.
    static func plain(_ number: Double) -> String {
        if number.rounded() == number, abs(number) < 1e15 { return String(Int64(number)) }
        return String(number)
    }
}
