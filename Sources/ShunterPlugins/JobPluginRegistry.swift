import ShunterBackends
import ShunterHandlers

/// The job plugins this build of the broker knows. Adding a plugin is one file conforming to
/// `JobPlugin` (with a static `descriptor`) and one line here.
package enum JobPluginRegistry {
    package static let builtIn: [JobPluginDescriptor] = [
        BashPlugin.descriptor,
        ContainerBashPlugin.descriptor,
        PythonPlugin.descriptor,
    ]

    /// The descriptor for a handler's `plugin:` name, nil if none has it.
    package static func descriptor(named name: String, in descriptors: [JobPluginDescriptor] = builtIn)
        -> JobPluginDescriptor?
    {
        descriptors.first { $0.name == name }
    }

    /// What the handler validator needs to know of the plugins and backends (it lives here
    /// because this module is the one that sees both registries).
    package static func catalog(
        plugins: [JobPluginDescriptor] = builtIn, backends: [BackendDescriptor] = BackendRegistry.builtIn
    ) -> ComponentCatalog {
        ComponentCatalog(plugins: plugins.map(\.component), backends: backends.map(\.component))
    }
}
