import Foundation

/// Where a broker finds its handlers (`handlers:` in the broker config).
package enum HandlerSource: Sendable, Hashable {
    /// Every `*.yaml` / `*.yml` file of the directory, in file-name order.
    case directory(String)
    /// These files, in this order.
    case files([String])
    /// No handler files at all: the built-in `bash-local` handler (see `HandlerConfig.builtinDefaults`).
    case builtin
}

extension HandlerConfig {
    /// What a broker runs with when there is neither a config file nor a `handlers/`
    /// directory: bash jobs without image or environment, on this machine, one per core.
    package static var builtinDefaults: [HandlerConfig] {
        [
            HandlerConfig(
                name: "bash-local", plugin: "bash", backend: "local",
                match: MatchRules(languages: ["bash"], image: .none, environment: .none),
                limits: HandlerLimits(maxJobs: max(1, ProcessInfo.processInfo.activeProcessorCount), timeout: nil),
                source: SourceLocation(file: "<built-in>", line: 0, column: 0))
        ]
    }
}

/// The outcome of loading handlers: what loaded, and every mistake found on the way.
package struct HandlerLoadResult: Sendable {
    /// Enabled handlers in matching order (file order, then order within a file).
    package var handlers: [HandlerConfig]
    /// Every error of every file; empty means the set is valid.
    package var errors: [ConfigError]
    /// The files that were read, in order.
    package var files: [String]
    /// Names of handlers written with `enabled: false`, for reports.
    package var disabled: [String]

    package init(
        handlers: [HandlerConfig] = [], errors: [ConfigError] = [], files: [String] = [], disabled: [String] = []
    ) {
        self.handlers = handlers
        self.errors = errors
        self.files = files
        self.disabled = disabled
    }

    /// The handlers, or all errors at once.
    package func get() throws(ConfigErrors) -> [HandlerConfig] {
        guard errors.isEmpty else { throw ConfigErrors(errors) }
        return handlers
    }
}
