import Foundation

/// Reads handler files and validates them strictly against the plugins and backends a broker
/// actually has, collecting every error instead of stopping at the first.
package struct HandlerLoader: Sendable {
    package var catalog: ComponentCatalog

    /// The keys every handler may have, in the order messages list them.
    package static let handlerKeys = ["name", "plugin", "backend", "enabled", "match", "limits"]
    package static let matchKeys = ["language", "image", "environment"]
    package static let limitKeys = ["max_jobs", "timeout"]

    package init(catalog: ComponentCatalog) {
        self.catalog = catalog
    }

    package func load(_ source: HandlerSource) -> HandlerLoadResult {
        switch source {
        case .directory(let path): load(directory: path)
        case .files(let paths): load(files: paths)
        case .builtin: HandlerLoadResult(handlers: HandlerConfig.builtinDefaults)
        }
    }

    /// Every `*.yaml` / `*.yml` file of `directory` (hidden files skipped), in file-name order
    /// with digit runs compared as numbers, so `9-a.yaml` comes before `10-b.yaml`.
    package func load(directory: String) -> HandlerLoadResult {
        do throws(ConfigError) {
            let files = try Self.handlerFiles(in: directory)
            return load(files: files)
        } catch {
            return HandlerLoadResult(errors: [error])
        }
    }

    package static func handlerFiles(in directory: String) throws(ConfigError) -> [String] {
        let whole = SourceLocation(file: directory, line: 0, column: 0)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw ConfigError("handler directory does not exist", at: whole)
        }
        guard isDirectory.boolValue else {
            throw ConfigError("'handlers' names a file, not a directory; write a list to name files", at: whole)
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw ConfigError("cannot list handler directory: \(error.localizedDescription)", at: whole)
        }
        let chosen = names.filter { !$0.hasPrefix(".") && ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) }
            .sorted { a, b in
                let order = a.compare(b, options: [.numeric])
                return order == .orderedSame ? a < b : order == .orderedAscending
            }
        guard !chosen.isEmpty else {
            throw ConfigError("no handler files (*.yaml, *.yml) in this directory", at: whole)
        }
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        return chosen.map { "\(base)/\($0)" }
    }

    package func load(files: [String]) -> HandlerLoadResult {
        var errors: [ConfigError] = []
        var parsed: [ParsedHandler] = []
        for file in files {
            do throws(ConfigError) {
                var validator = HandlerFileValidator(
                    catalog: catalog, document: try YAMLConfigReader.document(file: file))
                parsed += validator.handlers()
                errors += validator.errors
            } catch {
                errors.append(error)
            }
        }
        return assemble(parsed, errors: errors, files: files)
    }

    /// Validates YAML text as one handler file without touching the disk (tests, editors).
    package func parse(yaml: String, file: String) -> HandlerLoadResult {
        do throws(ConfigError) {
            var validator = HandlerFileValidator(
                catalog: catalog, document: try YAMLConfigReader.document(yaml: yaml, file: file))
            let parsed = validator.handlers()
            return assemble(parsed, errors: validator.errors, files: [file])
        } catch {
            return HandlerLoadResult(errors: [error], files: [file])
        }
    }

    /// Orders the handlers of all files, refusing a name used twice anywhere.
    private func assemble(_ parsed: [ParsedHandler], errors: [ConfigError], files: [String]) -> HandlerLoadResult {
        var result = HandlerLoadResult(errors: errors, files: files)
        var firstPlace: [String: SourceLocation] = [:]
        for entry in parsed {
            if let earlier = firstPlace[entry.handler.name] {
                result.errors.append(
                    ConfigError(
                        "handler name '\(entry.handler.name)' is already used at \(earlier); handler names must be unique",
                        at: entry.nameAt))
                continue
            }
            firstPlace[entry.handler.name] = entry.nameAt
            if entry.enabled {
                result.handlers.append(entry.handler)
            } else {
                result.disabled.append(entry.handler.name)
            }
        }
        if result.errors.isEmpty, result.handlers.isEmpty, let first = files.first {
            result.errors.append(
                ConfigError(
                    "no enabled handler in \(files.joined(separator: ", ")): the broker could not run any job",
                    at: SourceLocation(file: first, line: 0, column: 0)))
        }
        return result
    }
}
