import ShunterHandlers

/// A backend's option section of a handler (`docker:`, `apptainer:`), read with the handler
/// files' own vocabulary: every error is a `ConfigError` at the file, line and column where
/// the value was written. The validator has already refused unknown keys.
struct BackendOptions {
    let section: String
    let value: ConfigValue?

    init(section: String, in handler: HandlerConfig) throws {
        self.section = section
        self.value = handler.options[section]
        if let value {
            switch value {
            case .map, .null: break
            default:
                throw ConfigError("'\(section)' must be a mapping of options, got \(ConfigParsing.kindName(value))", at: value.location)
            }
        }
    }

    private func entry(_ key: String) -> ConfigValue? {
        guard let entry = value?[key] else { return nil }
        if case .null = entry { return nil }
        return entry
    }

    func string(_ key: String) throws -> String? {
        try entry(key).map { value throws(ConfigError) in try ConfigParsing.string(value, key: "\(section).\(key)") }
    }

    func bool(_ key: String) throws -> Bool? {
        try entry(key).map { value throws(ConfigError) in try ConfigParsing.bool(value, key: "\(section).\(key)") }
    }

    func stringList(_ key: String) throws -> [String]? {
        try entry(key).map { value throws(ConfigError) in try ConfigParsing.stringList(value, key: "\(section).\(key)") }
    }

    func byteSize(_ key: String) throws -> Int64? {
        try entry(key).map { value throws(ConfigError) in try ConfigParsing.byteSize(value, key: "\(section).\(key)") }
    }

    /// A positive number (whole or not): CPU counts.
    /// A number above 0 and at most `maximum` (a count of CPUs, say: a bound no machine
    /// reaches keeps later conversions to whole numbers from trapping).
    func positiveNumber(_ key: String, maximum: Double = 1_048_576) throws -> Double? {
        guard let value = entry(key) else { return nil }
        let number: Double
        switch value {
        case .int(let whole, _): number = Double(whole)
        case .double(let fraction, _): number = fraction
        default:
            throw ConfigError("'\(section).\(key)' must be a number, got \(ConfigParsing.kindName(value))", at: value.location)
        }
        guard number > 0, number.isFinite else {
            throw ConfigError("'\(section).\(key)' must be greater than 0, got \(number)", at: value.location)
        }
        guard number <= maximum else {
            throw ConfigError(
                "'\(section).\(key)' is too large: at most \(Int(maximum)), got \(number)", at: value.location)
        }
        return number
    }

    /// One of `accepted`, with a did-you-mean for a near miss.
    func choice(_ key: String, accepted: [String]) throws -> String? {
        guard let value = entry(key) else { return nil }
        let text = try ConfigParsing.string(value, key: "\(section).\(key)")
        guard accepted.contains(text) else {
            throw ConfigError.notOneOf(
                "'\(section).\(key)' cannot be '\(text)'", written: text, accepted: accepted, kind: "values", at: value.location)
        }
        return text
    }
}
