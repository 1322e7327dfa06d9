import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOSSL
import ShunterAuth
import ShunterBroker
import ShunterCore
import ShunterEnvironments
import ShunterHandlers
import ShunterStore

/// The HTTP face of Shunter: the Seamless jobserver, hashserver and seamless-database APIs and
/// Shunter's own `/jobs` API, all on one port. Their paths do not collide: the constant paths
/// (`/healthcheck`, `/jobs`, ...) win over the hashserver's `/{checksum}`.
package enum ShunterApplication {
    /// The same from its parts: the job routes ask `jobs` (the broker, or any other
    /// `JobService`), the store routes their stores.
    package static func router(
        jobs: any JobService, hash: HashAlgorithm, buffers: any BufferStore, environments: EnvironmentStore,
        database: SQLiteResultStore?, access: HTTPAccess = .open, logger: Logger
    ) -> Router<ShunterRequestContext> {
        let router = Router(context: ShunterRequestContext.self)
        // First, so that a request without the right token reaches nothing else; left out when
        // nobody is asked for one, so that an open broker's requests pay nothing for it.
        if access.authenticator.mode == .tokens {
            router.add(
                middleware: AuthenticationMiddleware(
                    authenticator: access.authenticator, audit: access.audit, logger: logger))
        }
        router.add(middleware: ErrorAnswerMiddleware())
        addJobserverRoutes(to: router, jobs: jobs, hash: hash)
        addJobsAPIRoutes(to: router, jobs: jobs, hash: hash)
        addEnvironmentRoutes(to: router, store: environments)
        addHashserverRoutes(to: router, store: buffers, writable: true)
        if let database {
            addDatabaseRoutes(to: router, database: database)
        }
        return router
    }

    /// HTTP/1 with the connection limits of `http:` (`ConnectionLimitHandler`). Raises the
    /// process's limit on open files first, and keeps `max_connections` within half of it.
    /// With `tls`, HTTPS (the certificate and key of `tls:`, loaded at start).
    package static func server(limits: HTTPServerLimits, tls: TLSConfiguration? = nil, logger: Logger)
        -> HTTPServerBuilder
    {
        var maxConnections = limits.maxConnections
        if let files = FileDescriptorLimit.raiseToHard(), UInt64(maxConnections) > files / 2 {
            let lowered = Int(clamping: max(1, files / 2))
            logger.warning(
                "http.max_connections is more than half of the open-files limit: lowered",
                metadata: ["max_connections": "\(maxConnections)", "now": "\(lowered)", "open_files_limit": "\(files)"])
            maxConnections = lowered
        }
        let plain = server(limits: limits, counter: ConnectionCounter(limit: maxConnections), logger: logger)
        guard let tls else { return plain }
        // `tls` only throws for a configuration NIOSSL cannot make a context of, which loading
        // it at start (`HTTPAccess.loadTLS`) has already ruled out.
        return (try? .tls(plain, tlsConfiguration: tls)) ?? plain
    }

    /// The same with the counter given (tests watch it).
    package static func server(limits: HTTPServerLimits, counter: ConnectionCounter, logger: Logger)
        -> HTTPServerBuilder
    {
        let deadlines = ConnectionDeadlines.Limits(idle: limits.idleTimeout, body: limits.bodyTimeout)
        return .http1(
            configuration: HTTP1Channel.Configuration(
                additionalChannelHandlers: [ConnectionLimitHandler(limits: deadlines, counter: counter, logger: logger)]
            ))
    }
}
