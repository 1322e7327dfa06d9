import Foundation
import ShunterCore

/// Everything `shunter check` shows: the broker config, the handlers in matching order, and
/// every error found in any file. `errors` empty means the broker would start. Made by the
/// validation `serve` runs too (`StartupValidation` in ShunterServer, which can build the
/// plugins and backends this module does not know).
package struct CheckReport: Sendable {
    /// nil when the config itself was invalid.
    package var config: BrokerConfig?
    package var handlers: HandlerLoadResult
    /// Config errors first, then handler errors, in file order.
    package var errors: [ConfigError]
    package var catalog: ComponentCatalog

    package var isValid: Bool { errors.isEmpty }

    /// Kinds of job an admin usually wonders about, for the "who takes what" table.
    package static let typicalJobs: [(label: String, traits: JobTraits)] = [
        ("bash", JobTraits(language: "bash")),
        ("bash in image ubuntu:24.04", JobTraits(language: "bash", image: "ubuntu:24.04")),
        ("bash in conda env 'analysis'", JobTraits(language: "bash", environment: "analysis")),
        ("python", JobTraits(language: "python")),
        ("python in conda env 'analysis'", JobTraits(language: "python", environment: "analysis")),
        ("python in image python:3.12", JobTraits(language: "python", image: "python:3.12")),
    ]

    package init(config: BrokerConfig?, handlers: HandlerLoadResult, errors: [ConfigError], catalog: ComponentCatalog) {
        self.config = config
        self.handlers = handlers
        self.errors = errors
        self.catalog = catalog
    }
}

/// The human-readable text of `shunter check`. Errors are listed last, one per line in
/// `file:line:column: message` form; the CLI exits non-zero when `report.isValid` is false.
package func renderCheckReport(_ report: CheckReport) -> String {
    var out: [String] = []
    if let config = report.config {
        out.append("Broker config: \(config.file ?? "built-in default (no config file)")")
        out.append("  listen             \(config.listen)")
        out.append("  hash               \(config.hash.rawValue)")
        out.append("  buffers            \(describe(config.store.buffers, embedded: "embedded store"))")
        out.append("  results            \(describe(config.store.results, embedded: "embedded SQLite"))")
        out.append("  promise timeout    \(ConfigParsing.format(config.store.promiseTimeout))")
        out.append("  journal            \(config.journal)")
        out.append(
            "  work directories   \(config.workdir) (failed ones kept \(ConfigParsing.format(config.keepFailedWorkdirs)))"
        )
        out.append("  log level          \(config.logLevel.rawValue)")
        out.append("  handlers from      \(describe(config.handlers))")
    } else {
        out.append("Broker config: invalid (see errors below)")
    }
    let handlers = report.handlers.handlers
    if !handlers.isEmpty {
        out.append("")
        out.append("Handlers, in the order jobs try them:")
        for (index, handler) in handlers.enumerated() {
            let plugin = report.catalog.plugin(named: handler.plugin)
            let backend = report.catalog.backend(named: handler.backend)
            out.append("  \(index + 1). \(handler.name)   (\(handler.source))")
            out.append("     plugin   \(handler.plugin)\(plugin.map { " - \($0.summary)" } ?? "")")
            out.append("     backend  \(handler.backend)\(backend.map { " - \($0.summary)" } ?? "")")
            out.append("     accepts  \(handler.match.summary)")
            let timeout = handler.limits.timeout.map(ConfigParsing.format) ?? "none"
            out.append("     limits   \(handler.limits.maxJobs) jobs at once, timeout \(timeout)")
            for section in handler.options.keys.sorted() {
                out.append("     \(section):  \(handler.options[section].map(render) ?? "")")
            }
        }
    }
    if !report.handlers.disabled.isEmpty {
        out.append("  disabled: \(report.handlers.disabled.joined(separator: ", "))")
    }
    if !handlers.isEmpty {
        out.append("")
        out.append("Which handler takes which job (the first that accepts; it may still queue):")
        let matcher = HandlerMatcher(handlers: handlers)
        let width = CheckReport.typicalJobs.map(\.label.count).max() ?? 0
        for (label, traits) in CheckReport.typicalJobs {
            let padded = label.padding(toLength: width, withPad: " ", startingAt: 0)
            out.append("  \(padded)  ->  \(matcher.firstMatch(traits)?.name ?? "no handler: refused")")
        }
    }
    out.append("")
    if report.errors.isEmpty {
        out.append("OK: configuration is valid.")
    } else {
        out.append("\(report.errors.count) error\(report.errors.count == 1 ? "" : "s"):")
        out += report.errors.map(\.description)
    }
    return out.joined(separator: "\n") + "\n"
}

private func describe(_ location: StoreLocation, embedded: String) -> String {
    switch location {
    case .path(let path): "\(path) (\(embedded))"
    case .url(let url): "\(url) (external server)"
    }
}

private func describe(_ source: HandlerSource) -> String {
    switch source {
    case .directory(let path): "\(path)/ (*.yaml, *.yml in file-name order)"
    case .files(let files): files.joined(separator: ", ")
    case .builtin: "built-in bash-local handler (no handlers directory)"
    }
}

/// A compact one-line YAML-ish rendering of an option section.
private func render(_ value: ConfigValue) -> String {
    switch value {
    case .null: "null"
    case .bool(let b, _): String(b)
    case .int(let i, _): String(i)
    case .double(let d, _): String(d)
    case .string(let s, _): s
    case .list(let items, _): "[" + items.map(render).joined(separator: ", ") + "]"
    case .map(let entries, _): "{" + entries.map { "\($0.key): \(render($0.value))" }.joined(separator: ", ") + "}"
    }
}
