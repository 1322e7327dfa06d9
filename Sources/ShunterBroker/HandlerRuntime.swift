import ShunterBackends
import ShunterHandlers
import ShunterPlugins

/// A configured handler with the plugin and backend instances that do its work.
package struct HandlerRuntime: Sendable {
    package var config: HandlerConfig
    package var plugin: any JobPlugin
    package var backend: any Backend

    package init(config: HandlerConfig, plugin: any JobPlugin, backend: any Backend) {
        self.config = config
        self.plugin = plugin
        self.backend = backend
    }

    package var name: String { config.name }

    /// Builds the runtime of each handler from the registries. Fails on a plugin or backend
    /// name no registry knows, which `HandlerLoader` validation normally catches first.
    package static func build(
        _ handlers: [HandlerConfig],
        plugins: [JobPluginDescriptor] = JobPluginRegistry.builtIn,
        backends: [BackendDescriptor] = BackendRegistry.builtIn,
        context: BackendContext = BackendContext()
    ) throws -> [HandlerRuntime] {
        try handlers.map { handler in
            guard let plugin = plugins.first(where: { $0.name == handler.plugin }) else {
                throw BrokerError.unknownComponent(kind: "plugin", name: handler.plugin, handler: handler.name)
            }
            guard let backend = backends.first(where: { $0.name == handler.backend }) else {
                throw BrokerError.unknownComponent(kind: "backend", name: handler.backend, handler: handler.name)
            }
            return HandlerRuntime(
                config: handler, plugin: try plugin.make(handler), backend: try backend.make(handler, context))
        }
    }
}
