/// The job plugins and backends a broker knows, as the handler validator needs to see them:
/// names, which pairs work together, and which option sections each reads.
///
/// The registries in `ShunterPlugins` and `ShunterBackends` build this; the handler module
/// only reads it, so it never has to import the code that runs jobs.
package struct ComponentCatalog: Sendable {
    package struct Component: Sendable, Hashable {
        package var name: String
        /// One line for `shunter check` and error messages.
        package var summary: String
        /// For plugins: the backends it can run on. Empty for backends.
        package var compatibleBackends: [String]
        /// The option section this component reads (`slurm:`, `docker:` ...), nil if none.
        package var optionSection: String?
        /// Accepted keys in that section, with a short description of each value.
        package var optionKeys: [String: String]
        /// For plugins: the `__language__` values it can run (`bash`, `python`). A handler that
        /// omits `match.language` accepts exactly these; a handler listing a language outside
        /// them is refused at load time. Empty means "not declared": no default, no check.
        package var languages: [String]

        package init(
            name: String, summary: String, compatibleBackends: [String] = [],
            optionSection: String? = nil, optionKeys: [String: String] = [:],
            languages: [String] = []
        ) {
            self.name = name
            self.summary = summary
            self.compatibleBackends = compatibleBackends
            self.optionSection = optionSection
            self.optionKeys = optionKeys
            self.languages = languages
        }
    }

    package var plugins: [Component]
    package var backends: [Component]

    package init(plugins: [Component], backends: [Component]) {
        self.plugins = plugins
        self.backends = backends
    }

    package func plugin(named name: String) -> Component? { plugins.first { $0.name == name } }
    package func backend(named name: String) -> Component? { backends.first { $0.name == name } }
}
