import Hummingbird
import Logging
import ShunterHandlers
import ShunterServer

/// The HTTP application of a broker built from its services: the composition root puts the
/// HTTP layer (which knows only a `JobService` and the stores) together with what
/// `ShunterServices.open` made.
extension ShunterApplication {
    package static func router(services: ShunterServices, access: HTTPAccess = .open, logger: Logger)
        -> Router<ShunterRequestContext>
    {
        router(
            jobs: services.broker, hash: services.config.hash, buffers: services.buffers,
            environments: services.environments, database: services.database, access: access, logger: logger)
    }

    /// `onServerRunning` runs once the listening socket exists.
    package static func make(
        services: ShunterServices, access: HTTPAccess = .open, logger: Logger,
        onServerRunning: @escaping @Sendable () async -> Void = {}
    ) -> some ApplicationProtocol {
        Application(
            router: router(services: services, access: access, logger: logger),
            server: server(limits: services.config.http, tls: access.tls, logger: logger),
            configuration: .init(
                address: .hostname(services.config.listen.host, port: services.config.listen.port),
                serverName: "Shunter/\(ShunterVersion.current)"),
            onServerRunning: { _ in await onServerRunning() },
            logger: logger)
    }
}
