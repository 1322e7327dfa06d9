import ShunterHandlers

/// A plugin's or backend's option section of a handler (`bash:`, `slurm:` ...), read with
/// errors that point at the file, line and column where the value was written.
struct PluginOptions {
    let section: String
    let handler: HandlerConfig
    let value: ConfigValue?

    init(section: String, in handler: HandlerConfig) throws {
        self.section = section
        self.handler = handler
        self.value = handler.options[section]
        if let value, case .map = value {} else if let value, case .null = value {} else if let value {
            throw PluginOptionError(location: value.location, message: "'\(section)' must be a map of options")
        }
    }

    func string(_ key: String) throws -> String? {
        guard let entry = value?[key] else { return nil }
        guard case .string(let text, _) = entry else {
            throw PluginOptionError(location: entry.location, message: "\(section).\(key) must be a string")
        }
        return text
    }

    func stringList(_ key: String) throws -> [String]? {
        guard let entry = value?[key] else { return nil }
        guard case .list(let items, _) = entry else {
            throw PluginOptionError(location: entry.location, message: "\(section).\(key) must be a list of strings")
        }
        return try items.map { item in
            guard case .string(let text, _) = item else {
                throw PluginOptionError(location: item.location, message: "\(section).\(key) must be a list of strings")
            }
            return text
        }
    }
}

/// A plugin option with a value of the wrong kind.
public struct PluginOptionError: Error, Sendable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String

    public var description: String { "\(location): \(message)" }
}
