/// A handler as read from a file, before names are checked across files.
struct ParsedHandler {
    var handler: HandlerConfig
    var nameAt: SourceLocation
    var enabled: Bool
}

/// Validates the handlers of one parsed file, collecting every error.
struct HandlerFileValidator {
    let catalog: ComponentCatalog
    let document: ConfigDocument
    private(set) var errors: [ConfigError] = []

    init(catalog: ComponentCatalog, document: ConfigDocument) {
        self.catalog = catalog
        self.document = document
    }

    mutating func handlers() -> [ParsedHandler] {
        switch document.root {
        case nil:
            return [] // An empty or fully commented-out file: a handler switched off by editing.
        case .map(let entries, let at)?:
            if !entries.contains(where: { HandlerLoader.handlerKeys.contains($0.key) }),
                entries.contains(where: { ["listen", "store", "journal", "handlers"].contains($0.key) })
            {
                errors.append(
                    ConfigError(
                        "this looks like a broker config (listen, store, ...), not a handler file;"
                            + " broker config belongs in config/shunter.yaml", at: at))
                return []
            }
            return handler(from: document.root!).map { [$0] } ?? []
        case .list(let items, _)?:
            return items.compactMap { handler(from: $0) }
        case let other?:
            errors.append(
                ConfigError(
                    "a handler file holds one handler (a mapping with name, plugin, backend ...) or a list of them,"
                        + " not \(ConfigParsing.kindName(other))", at: other.location))
            return []
        }
    }

    private mutating func attempt<T>(_ body: () throws(ConfigError) -> T) -> T? {
        do throws(ConfigError) { return try body() } catch {
            errors.append(error)
            return nil
        }
    }

    private func keyAt(_ value: ConfigValue) -> SourceLocation { document.keyLocation(of: value) }

    private mutating func handler(from value: ConfigValue) -> ParsedHandler? {
        guard case .map(let entries, let at) = value else {
            errors.append(
                ConfigError("each handler must be a mapping, got \(ConfigParsing.kindName(value))", at: value.location))
            return nil
        }
        let errorCountBefore = errors.count

        let name = value["name"].flatMap { v in attempt { () throws(ConfigError) in try Self.handlerName(v) } }
        let context = name.map { "in handler '\($0)'" } ?? "in the handler at line \(at.line)"
        if value["name"] == nil {
            errors.append(ConfigError("missing 'name' \(context); give it one, e.g. name: bash-local", at: at))
        }
        let catalog = self.catalog
        let plugin = required("plugin", in: value, at: at, context: context)
            .flatMap { v in
                attempt { () throws(ConfigError) in try Self.component(v, key: "plugin", among: catalog.plugins) }
            }
        let backend = required("backend", in: value, at: at, context: context)
            .flatMap { v in
                attempt { () throws(ConfigError) in try Self.component(v, key: "backend", among: catalog.backends) }
            }
        if let plugin, let backend, !plugin.compatibleBackends.contains(backend.name) {
            errors.append(
                ConfigError(
                    "plugin '\(plugin.name)' cannot run on backend '\(backend.name)' \(context)",
                    at: value["backend"]!.location, accepted: plugin.compatibleBackends,
                    acceptedKind: "backends for plugin '\(plugin.name)'"))
        }

        // Option sections: the handler's own plugin's and backend's. Another component's
        // section is a likely copy-paste mistake and gets a message saying whose it is.
        let ownSections = [plugin?.optionSection, backend?.optionSection].compactMap { $0 }
        var acceptedKeys = HandlerLoader.handlerKeys
        for section in ownSections where !acceptedKeys.contains(section) { acceptedKeys.append(section) }
        var options: [String: ConfigValue] = [:]
        var enabled = true
        var match = MatchRules(languages: Self.declaredLanguages(plugin))
        var limits = HandlerLimits()
        for (key, entry) in entries {
            switch key {
            case "name", "plugin", "backend":
                break
            case "enabled":
                enabled = attempt { () throws(ConfigError) in try ConfigParsing.bool(entry, key: key) } ?? true
            case "match":
                if let rules = parseMatch(entry, plugin: plugin, context: context) { match = rules }
            case "limits":
                if let parsed = parseLimits(entry, context: context) { limits = parsed }
            case _ where ownSections.contains(key):
                // A section written with nothing under it sets nothing, as a null option does.
                if case .null = entry { break }
                let sectionKeys = Set(
                    [plugin, backend].compactMap { $0 }.filter { $0.optionSection == key }.flatMap {
                        $0.optionKeys.keys
                    })
                let found = ConfigParsing.checkKeys(
                    entry, key: key, accepted: sectionKeys.sorted(),
                    context: "in section '\(key)' \(context)", keyLocation: keyAt)
                if found.isEmpty { options[key] = entry } else { errors += found }
            default:
                errors.append(
                    foreignSectionError(
                        key, entry: entry, plugin: plugin, backend: backend, context: context, accepted: acceptedKeys)
                        ?? ConfigParsing.unknownKey(key, at: keyAt(entry), context: context, accepted: acceptedKeys))
            }
        }
        guard errors.count == errorCountBefore, let name, let plugin, let backend else { return nil }
        let handler = HandlerConfig(
            name: name, plugin: plugin.name, backend: backend.name, match: match, limits: limits,
            options: options, source: at)
        return ParsedHandler(handler: handler, nameAt: value["name"]!.location, enabled: enabled)
    }

    private func foreignSectionError(
        _ key: String, entry: ConfigValue, plugin: ComponentCatalog.Component?, backend: ComponentCatalog.Component?,
        context: String, accepted: [String]
    ) -> ConfigError? {
        if let owner = catalog.plugins.first(where: { $0.optionSection == key }) {
            return ConfigError(
                "section '\(key)' configures plugin '\(owner.name)', but the plugin \(context) is '\(plugin?.name ?? "?")'",
                at: keyAt(entry), accepted: accepted, acceptedKind: "keys")
        }
        if let owner = catalog.backends.first(where: { $0.optionSection == key }) {
            return ConfigError(
                "section '\(key)' configures backend '\(owner.name)', but the backend \(context) is '\(backend?.name ?? "?")'",
                at: keyAt(entry), accepted: accepted, acceptedKind: "keys")
        }
        return nil
    }

    private mutating func required(_ key: String, in value: ConfigValue, at: SourceLocation, context: String)
        -> ConfigValue?
    {
        if let found = value[key] { return found }
        let names = key == "plugin" ? catalog.plugins.map(\.name) : catalog.backends.map(\.name)
        errors.append(ConfigError("missing '\(key)' \(context)", at: at, accepted: names, acceptedKind: "\(key)s"))
        return nil
    }

    static func declaredLanguages(_ plugin: ComponentCatalog.Component?) -> [String]? {
        guard let plugin, !plugin.languages.isEmpty else { return nil }
        return plugin.languages
    }

    static func handlerName(_ value: ConfigValue) throws(ConfigError) -> String {
        let name = try ConfigParsing.string(value, key: "name")
        let allowed = name.unicodeScalars.allSatisfy {
            ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)))
                || "-_.".unicodeScalars.contains($0)
        }
        guard allowed else {
            throw ConfigError(
                "handler name '\(name)' may only hold letters, digits, '-', '_' and '.' (it appears in logs and on the command line)",
                at: value.location)
        }
        return name
    }

    static func component(
        _ value: ConfigValue, key: String, among components: [ComponentCatalog.Component]
    ) throws(ConfigError) -> ComponentCatalog.Component {
        let name = try ConfigParsing.string(value, key: key)
        guard let found = components.first(where: { $0.name == name }) else {
            throw .notOneOf(
                "unknown \(key) '\(name)'", written: name, accepted: components.map(\.name), kind: "\(key)s",
                at: value.location)
        }
        return found
    }

    // MARK: match and limits

    private mutating func parseMatch(_ value: ConfigValue, plugin: ComponentCatalog.Component?, context: String)
        -> MatchRules?
    {
        let unknown = ConfigParsing.checkKeys(
            value, key: "match", accepted: HandlerLoader.matchKeys, context: "in 'match' \(context)", keyLocation: keyAt
        )
        guard unknown.isEmpty, case .map(let entries, _) = value else {
            errors += unknown
            return nil
        }
        var rules = MatchRules(languages: Self.declaredLanguages(plugin))
        var failed = false
        for (key, entry) in entries {
            do throws(ConfigError) {
                switch key {
                case "language": rules.languages = try Self.languages(entry, plugin: plugin)
                case "image": rules.image = try Self.patternRule(entry, key: "image", noun: "image")
                default: rules.environment = try Self.patternRule(entry, key: "environment", noun: "environment")
                }
            } catch {
                errors.append(error)
                failed = true
            }
        }
        return failed ? nil : rules
    }

    /// `any` (nil), one language, or a list; each must be one the plugin declares it runs.
    static func languages(_ value: ConfigValue, plugin: ComponentCatalog.Component?) throws(ConfigError) -> [String]? {
        if case .string("any", _) = value { return nil }
        let languages = try ConfigParsing.stringList(value, key: "match.language")
        guard !languages.isEmpty else {
            throw ConfigError(
                "'match.language' is an empty list, so the handler would accept nothing; list languages or write 'any'",
                at: value.location)
        }
        if let plugin, !plugin.languages.isEmpty {
            for language in languages where !plugin.languages.contains(language) {
                throw .notOneOf(
                    "plugin '\(plugin.name)' cannot run language '\(language)'", written: language,
                    accepted: plugin.languages, kind: "languages for plugin '\(plugin.name)'", at: value.location)
            }
        }
        return languages
    }

    /// `none`, `any`, one pattern, or a list of patterns.
    static func patternRule(_ value: ConfigValue, key: String, noun: String) throws(ConfigError) -> PatternRule {
        switch value {
        case .string("none", _), .null: return .none
        case .string("any", _): return .any
        case .string, .list:
            let patterns = try ConfigParsing.stringList(value, key: "match.\(key)")
            guard !patterns.isEmpty else {
                throw ConfigError(
                    "'match.\(key)' is an empty list, which accepts no job; write 'none' for jobs without \(noun)",
                    at: value.location)
            }
            if let word = patterns.first(where: { $0 == "none" || $0 == "any" }) {
                throw ConfigError(
                    "'\(word)' inside a list of '\(key)' patterns would be read as a name; write \(key): \(word) on its own",
                    at: value.location)
            }
            return .patterns(patterns)
        default:
            throw ConfigError(
                "'match.\(key)' must be none, any, a pattern or a list of patterns, got \(ConfigParsing.kindName(value))",
                at: value.location)
        }
    }

    private mutating func parseLimits(_ value: ConfigValue, context: String) -> HandlerLimits? {
        let unknown = ConfigParsing.checkKeys(
            value, key: "limits", accepted: HandlerLoader.limitKeys, context: "in 'limits' \(context)",
            keyLocation: keyAt)
        guard unknown.isEmpty, case .map(let entries, _) = value else {
            errors += unknown
            return nil
        }
        var limits = HandlerLimits()
        var failed = false
        for (key, entry) in entries {
            do throws(ConfigError) {
                if key == "max_jobs" {
                    limits.maxJobs = try ConfigParsing.int(entry, key: "limits.max_jobs", minimum: 1)
                } else {
                    limits.timeout = try Self.timeout(entry)
                }
            } catch {
                errors.append(error)
                failed = true
            }
        }
        return failed ? nil : limits
    }

    static func timeout(_ value: ConfigValue) throws(ConfigError) -> Duration? {
        switch value {
        case .string("none", _), .null: return nil
        default:
            let timeout = try ConfigParsing.duration(value, key: "limits.timeout")
            guard timeout > .zero else {
                throw ConfigError(
                    "'limits.timeout' must be longer than 0; write 'none' for no limit", at: value.location)
            }
            return timeout
        }
    }
}
