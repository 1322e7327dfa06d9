import Foundation
import ShunterCore

/// The outcome of reading a broker config: the config when it is valid, and every error.
package struct BrokerConfigLoadResult: Sendable {
    package var config: BrokerConfig?
    package var errors: [ConfigError]

    package init(config: BrokerConfig?, errors: [ConfigError]) {
        self.config = config
        self.errors = errors
    }

    package func get() throws(ConfigErrors) -> BrokerConfig {
        guard errors.isEmpty, let config else { throw ConfigErrors(errors) }
        return config
    }
}

/// Reads `config/shunter.yaml`.
///
/// Relative paths resolve against `root:`, which defaults to the directory holding the config
/// file; a relative `root` is itself taken from that directory. The shipped config says
/// `root: ..`, so `config/shunter.yaml` puts `var/` and `handlers/` next to `config/`.
package enum BrokerConfigLoader {
    /// Where `shunter` looks when no `--config` is given, relative to the current directory.
    package static let defaultPath = "config/shunter.yaml"

    package static let keys = [
        "listen", "hash", "root", "store", "journal", "workdir", "keep_failed_workdirs", "handlers", "environments",
        "log_level",
        "max_result_size", "journal_retention", "keep_failed_workdirs_max_size", "http", "auth", "tls",
    ]
    package static let httpKeys = ["idle_timeout", "body_timeout", "max_connections"]
    package static let storeKeys = ["buffers", "results", "promise_timeout"]
    package static let environmentsKeys = [
        "definitions", "root", "managers", "channels", "channel_alias", "keep_unused", "build_timeout", "tools_python",
        "executables",
    ]

    /// Environment variables that override the file (applied after it, checked the same way).
    package static let environmentKeys = [
        "SHUNTER_LISTEN": "listen", "SHUNTER_HASH": "hash", "SHUNTER_LOG_LEVEL": "log_level",
        "SHUNTER_HANDLERS": "handlers",
    ]

    /// The config `shunter` runs with: `explicitPath` if given (it must exist); otherwise
    /// `config/shunter.yaml` under `currentDirectory` if present; otherwise the built-in default.
    package static func resolve(
        explicitPath: String?, currentDirectory: String,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> BrokerConfigLoadResult {
        if let explicitPath {
            return load(
                file: ConfigPaths.resolve(explicitPath, against: currentDirectory), environment: environment,
                currentDirectory: currentDirectory)
        }
        let candidate = ConfigPaths.resolve(defaultPath, against: currentDirectory)
        if FileManager.default.fileExists(atPath: candidate) {
            return load(file: candidate, environment: environment, currentDirectory: currentDirectory)
        }
        var config = BrokerConfig.builtinDefault(directory: ConfigPaths.resolve(".", against: currentDirectory))
        var errors: [ConfigError] = []
        applyEnvironment(environment, to: &config, currentDirectory: currentDirectory, errors: &errors)
        return BrokerConfigLoadResult(config: errors.isEmpty ? config : nil, errors: errors)
    }

    package static func load(
        file: String, environment: [String: String] = [:], currentDirectory: String? = nil
    ) -> BrokerConfigLoadResult {
        do throws(ConfigError) {
            let document = try YAMLConfigReader.document(file: file)
            return parse(document, file: file, environment: environment, currentDirectory: currentDirectory)
        } catch {
            return BrokerConfigLoadResult(config: nil, errors: [error])
        }
    }

    /// Validates config text as if it were the file `file` (whose directory anchors `root`).
    package static func parse(
        yaml: String, file: String, environment: [String: String] = [:], currentDirectory: String? = nil
    ) -> BrokerConfigLoadResult {
        do throws(ConfigError) {
            let document = try YAMLConfigReader.document(yaml: yaml, file: file)
            return parse(document, file: file, environment: environment, currentDirectory: currentDirectory)
        } catch {
            return BrokerConfigLoadResult(config: nil, errors: [error])
        }
    }

    static func parse(
        _ document: ConfigDocument, file: String, environment: [String: String], currentDirectory: String?
    ) -> BrokerConfigLoadResult {
        let fileDirectory =
            (ConfigPaths.resolve(file, against: currentDirectory ?? FileManager.default.currentDirectoryPath)
            as NSString).deletingLastPathComponent
        var errors: [ConfigError] = []
        let entries: [(key: String, value: ConfigValue)]
        switch document.root {
        case nil: entries = [] // An empty config file means "all defaults".
        case .map(let found, _)?:
            entries = found
            errors += ConfigParsing.checkKeys(
                document.root!, key: "config", accepted: keys, context: "in the broker config",
                keyLocation: document.keyLocation(of:))
        case let other?:
            return BrokerConfigLoadResult(
                config: nil,
                errors: [
                    ConfigError(
                        "the broker config must be a mapping of settings, got \(ConfigParsing.kindName(other))",
                        at: other.location)
                ])
        }
        func attempt(_ body: () throws(ConfigError) -> Void) {
            do throws(ConfigError) { try body() } catch { errors.append(error) }
        }

        var root = fileDirectory
        if let value = document.root?["root"] {
            attempt { () throws(ConfigError) in
                root = ConfigPaths.resolve(try ConfigParsing.string(value, key: "root"), against: fileDirectory)
            }
        }
        var config = BrokerConfig.defaults(root: root)
        config.file = file
        for (key, value) in entries {
            config.locations[key] = value.location
            if case .map(let inner, _) = value {
                for (innerKey, innerValue) in inner { config.locations["\(key).\(innerKey)"] = innerValue.location }
            }
        }
        for (key, value) in entries {
            attempt { () throws(ConfigError) in
                switch key {
                case "listen": config.listen = try listen(value)
                case "hash": config.hash = try hash(value)
                case "store": config.store = try store(value, root: root, defaults: config.store, document: document)
                case "journal": config.journal = try path(value, key: key, root: root)
                case "workdir": config.workdir = try path(value, key: key, root: root)
                case "keep_failed_workdirs": config.keepFailedWorkdirs = try ConfigParsing.duration(value, key: key)
                case "handlers": config.handlers = try handlers(value, root: root)
                case "environments":
                    config.environments = try environments(
                        value, root: root, defaults: config.environments, document: document)
                case "log_level": config.logLevel = try logLevel(value)
                case "max_result_size":
                    config.maxResultSize = try ConfigParsing.byteSize(value, key: key)
                    guard config.maxResultSize > 0 else {
                        throw ConfigError("'max_result_size' must be more than 0 bytes", at: value.location)
                    }
                case "http": config.http = try http(value, document: document)
                case "auth": config.auth = try auth(value, root: root, document: document)
                case "tls": config.tls = try tls(value, root: root, document: document)
                case "keep_failed_workdirs_max_size":
                    config.keepFailedWorkdirsMaxSize = try ConfigParsing.byteSize(value, key: key)
                case "journal_retention":
                    config.journalRetention = try ConfigParsing.duration(value, key: key)
                    guard config.journalRetention > .zero else {
                        throw ConfigError(
                            "'journal_retention' must be longer than 0: it is how long an ended job's record is kept "
                                + "(write e.g. 7d, or 3650d to keep records for years)",
                            at: value.location)
                    }
                default: break
                }
            }
        }
        applyEnvironment(environment, to: &config, currentDirectory: currentDirectory ?? root, errors: &errors)
        return BrokerConfigLoadResult(config: errors.isEmpty ? config : nil, errors: errors)
    }

    /// Overrides from `SHUNTER_*` variables; errors point at the variable by name.
    static func applyEnvironment(
        _ environment: [String: String], to config: inout BrokerConfig, currentDirectory: String,
        errors: inout [ConfigError]
    ) {
        for variable in environmentKeys.keys.sorted() {
            guard let text = environment[variable] else { continue }
            let value = ConfigValue.string(text, SourceLocation(file: "$\(variable)", line: 0, column: 0))
            do throws(ConfigError) {
                switch environmentKeys[variable] {
                case "listen": config.listen = try listen(value)
                case "hash": config.hash = try hash(value)
                case "log_level": config.logLevel = try logLevel(value)
                default:
                    let resolved = ConfigPaths.resolve(text, against: currentDirectory)
                    config.handlers =
                        text.hasSuffix(".yaml") || text.hasSuffix(".yml") ? .files([resolved]) : .directory(resolved)
                }
            } catch {
                errors.append(error)
            }
        }
    }

    // MARK: Values

    static func listen(_ value: ConfigValue) throws(ConfigError) -> ListenAddress {
        let text: String
        switch value {
        case .int(let port, _): text = String(port)
        default: text = try ConfigParsing.string(value, key: "listen")
        }
        guard let address = ListenAddress(parsing: text) else {
            throw ConfigError(
                "'listen' must be host:port with a port from 0 to 65535, got '\(text)'", at: value.location,
                accepted: ["127.0.0.1:5533", "0.0.0.0:5533", "[::1]:5533", "5533"], acceptedKind: "forms")
        }
        return address
    }

    static func hash(_ value: ConfigValue) throws(ConfigError) -> HashAlgorithm {
        let text = try ConfigParsing.string(value, key: "hash")
        guard let algorithm = HashAlgorithm(rawValue: text) else {
            throw .notOneOf(
                "unknown hash '\(text)'", written: text, accepted: HashAlgorithm.allCases.map(\.rawValue),
                kind: "values",
                at: value.location)
        }
        return algorithm
    }

    static func logLevel(_ value: ConfigValue) throws(ConfigError) -> BrokerLogLevel {
        let text = try ConfigParsing.string(value, key: "log_level")
        guard let level = BrokerLogLevel(rawValue: text) else {
            throw .notOneOf(
                "unknown log_level '\(text)'", written: text, accepted: BrokerLogLevel.allCases.map(\.rawValue),
                kind: "values", at: value.location)
        }
        return level
    }

    static func path(_ value: ConfigValue, key: String, root: String) throws(ConfigError) -> String {
        ConfigPaths.resolve(try ConfigParsing.string(value, key: key), against: root)
    }

    static func handlers(_ value: ConfigValue, root: String) throws(ConfigError) -> HandlerSource {
        switch value {
        case .list(let items, _):
            guard !items.isEmpty else {
                throw ConfigError("'handlers' is an empty list; name handler files or a directory", at: value.location)
            }
            var files: [String] = []
            for item in items { files.append(try path(item, key: "handlers entry", root: root)) }
            return .files(files)
        case .string(let text, _) where text.hasSuffix(".yaml") || text.hasSuffix(".yml"):
            return .files([try path(value, key: "handlers", root: root)])
        case .string:
            let directory = try path(value, key: "handlers", root: root)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
                throw ConfigError(
                    "'handlers' names \(directory), which does not exist; create it with handler files in it, or name handler files in a list",
                    at: value.location)
            }
            guard isDirectory.boolValue else {
                throw ConfigError(
                    "'handlers' names \(directory), which is not a directory; handler files end in .yaml or .yml",
                    at: value.location)
            }
            return .directory(directory)
        default:
            throw ConfigError(
                "'handlers' must be a directory or a list of handler files, got \(ConfigParsing.kindName(value))",
                at: value.location)
        }
    }

    static func store(
        _ value: ConfigValue, root: String, defaults: StoreConfig, document: ConfigDocument
    ) throws(ConfigError) -> StoreConfig {
        let entries = try ConfigParsing.mapping(
            value, key: "store", accepted: storeKeys, context: "in 'store'", keyLocation: document.keyLocation(of:))
        var store = defaults
        for (key, entry) in entries {
            switch key {
            case "buffers": store.buffers = try location(entry, key: "store.buffers", root: root, server: "hashserver")
            case "results":
                store.results = try location(entry, key: "store.results", root: root, server: "seamless-database")
            default: store.promiseTimeout = try ConfigParsing.duration(entry, key: "store.promise_timeout")
            }
        }
        return store
    }

    static func http(_ value: ConfigValue, document: ConfigDocument) throws(ConfigError) -> HTTPServerLimits {
        let entries = try ConfigParsing.mapping(
            value, key: "http", accepted: httpKeys, context: "in 'http'", keyLocation: document.keyLocation(of:))
        var limits = HTTPServerLimits()
        for (key, entry) in entries {
            switch key {
            case "idle_timeout", "body_timeout":
                // 0 waits forever, as a client that may take its time asks.
                let duration = try ConfigParsing.duration(entry, key: "http.\(key)")
                let limit: Duration? = duration == .zero ? nil : duration
                if key == "idle_timeout" { limits.idleTimeout = limit } else { limits.bodyTimeout = limit }
            default:
                limits.maxConnections = try ConfigParsing.int(entry, key: "http.max_connections", minimum: 1)
            }
        }
        return limits
    }

    static func environments(
        _ value: ConfigValue, root: String, defaults: EnvironmentsConfig, document: ConfigDocument
    ) throws(ConfigError) -> EnvironmentsConfig {
        let entries = try ConfigParsing.mapping(
            value, key: "environments", accepted: environmentsKeys, context: "in 'environments'",
            keyLocation: document.keyLocation(of:))
        var result = defaults
        for (key, entry) in entries {
            let name = "environments.\(key)"
            switch key {
            case "definitions": result.definitions = try path(entry, key: name, root: root)
            case "root": result.root = try path(entry, key: name, root: root)
            case "tools_python":
                let written = try ConfigParsing.string(entry, key: name)
                // A bare name is looked up on PATH when the manager runs; a path is under root.
                result.toolsPython = written.contains("/") ? ConfigPaths.resolve(written, against: root) : written
            case "channel_alias": result.channelAlias = try ConfigParsing.string(entry, key: name)
            case "channels": result.channels = try ConfigParsing.stringList(entry, key: name)
            case "keep_unused": result.keepUnused = try ConfigParsing.duration(entry, key: name)
            case "build_timeout": result.buildTimeout = try ConfigParsing.duration(entry, key: name)
            case "managers":
                let names = try ConfigParsing.stringList(entry, key: name)
                guard !names.isEmpty else {
                    throw ConfigError("'\(name)' is empty: no environment could be built", at: entry.location)
                }
                for manager in names where !EnvironmentsConfig.defaultManagers.contains(manager) {
                    throw .notOneOf(
                        "unknown environment manager '\(manager)'", written: manager,
                        accepted: EnvironmentsConfig.defaultManagers, kind: "managers", at: entry.location)
                }
                result.managers = names
            default:
                let tools = ["micromamba", "mamba", "conda"]
                let pairs = try ConfigParsing.mapping(entry, key: name, accepted: tools, context: "in '\(name)'")
                for (tool, executable) in pairs {
                    result.executables[tool] = try path(executable, key: "\(name).\(tool)", root: root)
                }
            }
        }
        return result
    }

    /// `PATH`, `{path: PATH}` or `{url: http://host:port}`.
    static func location(_ value: ConfigValue, key: String, root: String, server: String) throws(ConfigError)
        -> StoreLocation
    {
        switch value {
        case .string:
            return .path(try path(value, key: key, root: root))
        case .map(let entries, _):
            let context = "in '\(key)' (write a path, {path: PATH} or {url: URL} of a \(server))"
            _ = try ConfigParsing.mapping(value, key: key, accepted: ["path", "url"], context: context)
            guard entries.count == 1, let (which, inner) = entries.first.map({ ($0.key, $0.value) }) else {
                throw ConfigError("'\(key)' takes either 'path' or 'url', not both", at: value.location)
            }
            if which == "path" { return .path(try path(inner, key: "\(key).path", root: root)) }
            let url = try ConfigParsing.string(inner, key: "\(key).url")
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil
            else {
                throw ConfigError(
                    "'\(key).url' must be an http:// or https:// URL of a \(server), got '\(url)'", at: inner.location)
            }
            return .url(url)
        default:
            throw ConfigError(
                "'\(key)' must be a path or {url: ...} of a \(server), got \(ConfigParsing.kindName(value))",
                at: value.location)
        }
    }
}
