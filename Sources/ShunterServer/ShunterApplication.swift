import Hummingbird
import Logging
import ShunterBroker
import ShunterCore
import ShunterHandlers
import ShunterStore

/// The HTTP face of Shunter: the Seamless jobserver, hashserver and seamless-database APIs and
/// Shunter's own `/jobs` API, all on one port. Their paths do not collide: the constant paths
/// (`/healthcheck`, `/jobs`, ...) win over the hashserver's `/{checksum}`.
public enum ShunterApplication {
    public static func router(services: ShunterServices) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        addJobserverRoutes(to: router, broker: services.broker, hash: services.config.hash)
        addJobsAPIRoutes(to: router, broker: services.broker, hash: services.config.hash)
        addEnvironmentRoutes(to: router, store: services.environments)
        addHashserverRoutes(to: router, store: services.buffers, writable: true)
        if let database = services.database {
            addDatabaseRoutes(to: router, database: database)
        }
        return router
    }

    /// `onServerRunning` runs once the listening socket exists.
    public static func make(
        services: ShunterServices, logger: Logger, onServerRunning: @escaping @Sendable () async -> Void = {}
    ) -> some ApplicationProtocol {
        Application(
            router: router(services: services),
            configuration: .init(
                address: .hostname(services.config.listen.host, port: services.config.listen.port),
                serverName: "Shunter/\(ShunterVersion.current)"),
            onServerRunning: { _ in await onServerRunning() },
            logger: logger)
    }
}
