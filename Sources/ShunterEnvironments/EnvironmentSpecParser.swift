import Foundation
import ShunterCore
import ShunterHandlers

/// Reads `environment.yml` content: a file in `conda-envs/` (errors point at file:line:column)
/// or the `conda` mapping of a transformation's `__env__`.
package enum EnvironmentSpecParser {
    /// `prefix:` is accepted and ignored (`conda env export` writes it; Shunter chooses where
    /// an environment lives).
    package static let keys = ["name", "channels", "dependencies", "variables", "prefix"]

    /// Parses `conda-envs/NAME.yml`. The environment is called by the file's stem, whatever
    /// its `name:` says: the stem is what handlers and jobs name.
    package static func parse(file path: String) throws(ConfigErrors) -> EnvironmentSpec {
        let document: ConfigDocument
        do throws(ConfigError) {
            document = try YAMLConfigReader.document(file: path)
        } catch {
            throw ConfigErrors([error])
        }
        let stem = String(path.split(separator: "/").last ?? "").split(separator: ".").dropLast().joined(separator: ".")
        guard let value = document.root else {
            throw ConfigErrors([
                ConfigError(
                    "the environment file is empty; it needs at least 'dependencies'",
                    at: SourceLocation(file: path, line: 0, column: 0))
            ])
        }
        return try parse(value, name: stem, origin: path, keyLocation: document.keyLocation(of:))
    }

    /// Parses the `conda` entry of `__env__` (an environment.yml that Seamless parsed to JSON).
    package static func parse(inline json: JSONValue) throws(ConfigErrors) -> EnvironmentSpec {
        let value = configValue(json, at: SourceLocation(file: "__env__.conda", line: 0, column: 0))
        var name: String?
        if case .map(let entries, _) = value,
            case .string(let written, _)? = entries.first(where: { $0.key == "name" })?.value
        {
            name = written
        }
        return try parse(value, name: name, origin: "__env__.conda")
    }

    static func parse(
        _ value: ConfigValue, name: String?, origin: String,
        keyLocation: (ConfigValue) -> SourceLocation = { $0.location }
    ) throws(ConfigErrors) -> EnvironmentSpec {
        var errors: [ConfigError] = []
        guard case .map(let entries, _) = value else {
            throw ConfigErrors([
                ConfigError(
                    "an environment spec must be a mapping with 'dependencies' (environment.yml format), got \(ConfigParsing.kindName(value))",
                    at: value.location)
            ])
        }
        errors += ConfigParsing.checkKeys(
            value, key: "environment", accepted: keys, context: "in an environment spec", keyLocation: keyLocation)
        var channels: [String] = []
        var dependencies: [String] = []
        var pip: [String] = []
        var variables: [String: String] = [:]
        var sawDependencies = false
        func attempt(_ body: () throws(ConfigError) -> Void) {
            do throws(ConfigError) { try body() } catch { errors.append(error) }
        }
        for (key, entry) in entries {
            switch key {
            case "name":
                attempt { () throws(ConfigError) in _ = try ConfigParsing.string(entry, key: "name") }
            case "channels":
                attempt { () throws(ConfigError) in channels = try list(entry, key: "channels") }
            case "variables":
                attempt { () throws(ConfigError) in
                    guard case .map(let pairs, _) = entry else {
                        throw ConfigError(
                            "'variables' must be a mapping of NAME: value, got \(ConfigParsing.kindName(entry))",
                            at: entry.location)
                    }
                    for (variable, setting) in pairs {
                        switch setting {
                        case .string(let text, _): variables[variable] = text
                        case .int(let number, _): variables[variable] = String(number)
                        case .double(let number, _): variables[variable] = String(number)
                        case .bool(let flag, _): variables[variable] = flag ? "true" : "false"
                        default:
                            throw ConfigError(
                                "variable '\(variable)' must be a text or a number, got \(ConfigParsing.kindName(setting))",
                                at: setting.location)
                        }
                    }
                }
            case "dependencies":
                sawDependencies = true
                guard case .list(let items, _) = entry else {
                    errors.append(
                        ConfigError(
                            "'dependencies' must be a list of packages, got \(ConfigParsing.kindName(entry))",
                            at: entry.location))
                    continue
                }
                for item in items {
                    attempt { () throws(ConfigError) in
                        switch item {
                        case .string(let text, _):
                            guard !text.trimmingCharacters(in: .whitespaces).isEmpty else {
                                throw ConfigError("an empty entry in 'dependencies'", at: item.location)
                            }
                            dependencies.append(text)
                        case .map(let inner, _) where inner.count == 1 && inner[0].key == "pip":
                            pip += try list(inner[0].value, key: "pip")
                        case .map:
                            throw ConfigError(
                                "a mapping in 'dependencies' may only be {pip: [requirements]}", at: item.location)
                        default:
                            throw ConfigError(
                                "a dependency must be a match spec such as 'numpy>=1.26', got \(ConfigParsing.kindName(item))",
                                at: item.location)
                        }
                    }
                }
            default:
                break
            }
        }
        if !sawDependencies {
            errors.append(
                ConfigError("an environment spec needs 'dependencies' (a list of packages)", at: value.location))
        } else if dependencies.isEmpty && pip.isEmpty && errors.isEmpty {
            errors.append(
                ConfigError("'dependencies' is empty: the environment would have nothing in it", at: value.location))
        }
        guard errors.isEmpty else { throw ConfigErrors(errors) }
        return EnvironmentSpec(
            name: name, channels: channels, dependencies: dependencies, pip: pip, variables: variables, origin: origin)
    }

    private static func list(_ value: ConfigValue, key: String) throws(ConfigError) -> [String] {
        guard case .list(let items, _) = value else {
            throw ConfigError("'\(key)' must be a list, got \(ConfigParsing.kindName(value))", at: value.location)
        }
        var result: [String] = []
        for item in items {
            switch item {
            case .string(let text, _) where !text.isEmpty: result.append(text)
            // YAML reads `- 3.11` or `- 1` as numbers; a channel or requirement never is one.
            default:
                throw ConfigError(
                    "an entry of '\(key)' must be a text, got \(ConfigParsing.kindName(item))", at: item.location)
            }
        }
        return result
    }

    /// JSON has no places; every value gets the one given (`__env__.conda`).
    static func configValue(_ json: JSONValue, at location: SourceLocation) -> ConfigValue {
        switch json {
        case .null: .null(location)
        case .bool(let flag): .bool(flag, location)
        case .int(let number): .int(Int(number), location)
        case .bigInt(let text): .string(text, location)
        case .double(let number): .double(number, location)
        case .string(let text): .string(text, location)
        case .array(let items): .list(items.map { configValue($0, at: location) }, location)
        case .object(let object):
            .map(object.keys.sorted().map { (key: $0, value: configValue(object[$0]!, at: location)) }, location)
        }
    }
}
