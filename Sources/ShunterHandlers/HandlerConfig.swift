import ShunterCore

/// One job handler, as an admin declared it in a file under `handlers/`.
///
/// A handler pairs a job plugin (how a transformation becomes a command) with a backend
/// (where the command runs). Handlers are tried in order; the first whose `match` accepts a
/// job and that has room takes it.
package struct HandlerConfig: Sendable, Hashable {
    package var name: String
    /// A plugin name from the `ComponentCatalog` (`bash`, `container-bash`, `python`).
    package var plugin: String
    /// A backend name from the `ComponentCatalog` (`local`, `docker`, `apptainer`, `slurm`).
    package var backend: String
    package var match: MatchRules
    package var limits: HandlerLimits
    /// Plugin- and backend-specific sections (`bash:`, `docker:`, `slurm:` ...), validated
    /// against the option keys their catalog entries declare.
    package var options: [String: ConfigValue]
    /// Where the handler was declared, for messages that point an admin at the line.
    package var source: SourceLocation

    package init(
        name: String, plugin: String, backend: String, match: MatchRules = MatchRules(),
        limits: HandlerLimits = HandlerLimits(), options: [String: ConfigValue] = [:],
        source: SourceLocation = SourceLocation(file: "<built-in>", line: 0, column: 0)
    ) {
        self.name = name
        self.plugin = plugin
        self.backend = backend
        self.match = match
        self.limits = limits
        self.options = options
        self.source = source
    }
}

/// Which jobs a handler accepts.
package struct MatchRules: Sendable, Hashable {
    /// Accepted `__language__` values; nil accepts any language.
    package var languages: [String]?
    package var image: PatternRule
    package var environment: PatternRule

    package init(languages: [String]? = nil, image: PatternRule = .none, environment: PatternRule = .none) {
        self.languages = languages
        self.image = image
        self.environment = environment
    }
}

/// A rule over an optional name (a container image, a conda environment).
package enum PatternRule: Sendable, Hashable {
    /// Only jobs that ask for no image (environment).
    case none
    /// Any job, with or without one.
    case any
    /// Only jobs that ask for one matching a pattern (`*` and `?` wildcards).
    case patterns([String])
}

package struct HandlerLimits: Sendable, Hashable {
    /// Jobs this handler runs at once; more wait in the queue.
    package var maxJobs: Int
    /// Wall-clock limit per job; nil means none.
    package var timeout: Duration?

    package init(maxJobs: Int = 8, timeout: Duration? = nil) {
        self.maxJobs = maxJobs
        self.timeout = timeout
    }
}

/// What the matcher looks at in a job.
package struct JobTraits: Sendable, Hashable {
    package var language: String
    /// `__env__` → `docker.name`.
    package var image: String?
    /// `__env__` → `conda_environment`, or the identity of an inline `conda` spec.
    package var environment: String?

    package init(language: String, image: String? = nil, environment: String? = nil) {
        self.language = language
        self.image = image
        self.environment = environment
    }
}

/// A place in a configuration file: 1-based line and column, as editors count them.
package struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    package var file: String
    package var line: Int
    package var column: Int

    package init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    package var description: String { "\(file):\(line):\(column)" }
}
