import Foundation
import ShunterBackends
import ShunterEnvironments
import ShunterHandlers
import ShunterPlugins

/// The one validation of a broker's configuration, run by `shunter serve` before it opens
/// anything and by `shunter check`, so that the two accept exactly the same files and name
/// every error at once: the handler files, the option sections of each handler's plugin and
/// backend (read by building them, exactly as the running broker builds them, but without
/// starting anything), the places the broker writes (work directory, buffer directory, result
/// and journal databases) and the conda environment definitions.
package enum StartupValidation {
    /// Validates `config` and the handlers it names. Reads files and creates nothing.
    package static func report(
        config: BrokerConfig,
        plugins: [JobPluginDescriptor] = JobPluginRegistry.builtIn,
        backends: [BackendDescriptor] = BackendRegistry.builtIn
    ) -> CheckReport {
        let handlers = loadHandlers(config.handlers, plugins: plugins, backends: backends)
        var errors = handlers.errors
        errors += placeErrors(config)
        errors += EnvironmentCatalog(directory: config.environments.definitions).validate()
        return CheckReport(
            config: config, handlers: handlers, errors: errors,
            catalog: JobPluginRegistry.catalog(plugins: plugins, backends: backends))
    }

    /// What `shunter check` shows: the config found as `serve` finds it (`configPath`, else the
    /// default), with `handlerFiles` instead of its handlers when some are given. Handler files
    /// are still checked when the config itself is invalid.
    package static func check(
        configPath: String?, handlerFiles: [String] = [], currentDirectory: String,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        plugins: [JobPluginDescriptor] = JobPluginRegistry.builtIn,
        backends: [BackendDescriptor] = BackendRegistry.builtIn
    ) -> CheckReport {
        let loaded = BrokerConfigLoader.resolve(
            explicitPath: configPath, currentDirectory: currentDirectory, environment: environment)
        let files: HandlerSource? =
            handlerFiles.isEmpty
            ? nil : .files(handlerFiles.map { ConfigPaths.resolve($0, against: currentDirectory) })
        if var config = loaded.config {
            if let files { config.handlers = files }
            var checked = report(config: config, plugins: plugins, backends: backends)
            checked.errors = loaded.errors + checked.errors
            return checked
        }
        let handlers = files.map { loadHandlers($0, plugins: plugins, backends: backends) } ?? HandlerLoadResult()
        return CheckReport(
            config: nil, handlers: handlers, errors: loaded.errors + handlers.errors,
            catalog: JobPluginRegistry.catalog(plugins: plugins, backends: backends))
    }

    /// The handlers of `source`, with the errors of their files and of their components.
    static func loadHandlers(
        _ source: HandlerSource, plugins: [JobPluginDescriptor], backends: [BackendDescriptor]
    ) -> HandlerLoadResult {
        var loaded = HandlerLoader(catalog: JobPluginRegistry.catalog(plugins: plugins, backends: backends)).load(
            source)
        loaded.errors += componentErrors(loaded.handlers, plugins: plugins, backends: backends)
        return loaded
    }

    /// Builds each handler's plugin and backend from its option sections, starting neither;
    /// one error per component that refuses them. Unknown plugin or backend names are
    /// `HandlerLoader`'s errors.
    static func componentErrors(
        _ handlers: [HandlerConfig], plugins: [JobPluginDescriptor], backends: [BackendDescriptor]
    ) -> [ConfigError] {
        var errors: [ConfigError] = []
        func add(_ error: any Error, handler: HandlerConfig, component: String) {
            let found =
                (error as? ConfigError)
                ?? ConfigError("handler '\(handler.name)': \(component): \(error)", at: handler.source)
            if !errors.contains(found) { errors.append(found) }
        }
        for handler in handlers {
            if let plugin = plugins.first(where: { $0.name == handler.plugin }) {
                do { _ = try plugin.build(handler) } catch {
                    add(error, handler: handler, component: "plugin '\(handler.plugin)'")
                }
            }
            if let backend = backends.first(where: { $0.name == handler.backend }) {
                do { _ = try backend.make(handler, BackendContext()) } catch {
                    add(error, handler: handler, component: "backend '\(handler.backend)'")
                }
            }
        }
        return errors
    }

    /// The directories the broker creates and the databases it opens, each checked without
    /// creating or opening anything.
    static func placeErrors(_ config: BrokerConfig) -> [ConfigError] {
        var errors: [ConfigError] = []
        func location(_ setting: String) -> SourceLocation {
            config.locations[setting] ?? config.locations["root"]
                ?? SourceLocation(file: config.file ?? "the built-in default config", line: 0, column: 0)
        }
        func check(_ setting: String, _ path: String, _ problem: String?) {
            guard let problem else { return }
            errors.append(ConfigError("'\(setting)' \(path): \(problem)", at: location(setting)))
        }
        check("workdir", config.workdir, directoryProblem(config.workdir))
        if case .path(let directory) = config.store.buffers {
            check("store.buffers", directory, directoryProblem(directory))
        }
        if case .path(let file) = config.store.results {
            check("store.results", file, databaseProblem(file))
        }
        check("journal", config.journal, databaseProblem(config.journal))
        return errors
    }

    /// Why the broker could not use or create a directory at `path`, nil when it can.
    static func directoryProblem(_ path: String) -> String? {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        if manager.fileExists(atPath: path, isDirectory: &isDirectory) {
            if !isDirectory.boolValue { return "is a file, not a directory" }
            return access(path, W_OK | X_OK) == 0 ? nil : "is not writable by this user"
        }
        // The nearest existing ancestor decides whether the directory can be made.
        var ancestor = (path as NSString).deletingLastPathComponent
        while !manager.fileExists(atPath: ancestor, isDirectory: &isDirectory) {
            let parent = (ancestor as NSString).deletingLastPathComponent
            if parent == ancestor || parent.isEmpty {
                return "cannot be created: none of its parent directories exists"
            }
            ancestor = parent
        }
        if !isDirectory.boolValue { return "cannot be created: \(ancestor) is a file, not a directory" }
        if access(ancestor, W_OK | X_OK) != 0 { return "cannot be created: \(ancestor) is not writable by this user" }
        return nil
    }

    /// SQLite's first 16 bytes.
    static let sqliteHeader = Array("SQLite format 3\0".utf8)

    /// Why the broker could not open or create an SQLite database at `path`, nil when it can.
    static func databaseProblem(_ path: String) -> String? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            return directoryProblem((path as NSString).deletingLastPathComponent)
                .map { "its directory \((path as NSString).deletingLastPathComponent) \($0)" }
        }
        if isDirectory.boolValue { return "is a directory, not a database file" }
        guard let handle = FileHandle(forReadingAtPath: path) else { return "cannot be read by this user" }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: sqliteHeader.count)) ?? Data()
        // An empty file is a database SQLite has not written to yet.
        if !head.isEmpty && [UInt8](head) != sqliteHeader {
            return "is not an SQLite database; move the file away or point the setting at another path"
        }
        return access(path, W_OK) == 0 ? nil : "is not writable by this user"
    }
}
