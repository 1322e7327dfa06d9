import Hummingbird
import Logging
import ServiceLifecycle
import ShunterServer
import UnixSignals

/// The services of a running broker process, in one group: the broker, its housekeeping,
/// optionally the idle exit, and the HTTP server. SIGTERM and SIGINT shut the group down
/// gracefully, in reverse order: the server stops taking connections last, after the broker
/// has stopped its jobs and committed the journal.
package enum BrokerServiceGroup {
    package static func make(
        services: ShunterServices,
        server: some Service,
        idleExit: IdleExitService? = nil,
        logger: Logger
    ) -> ServiceGroup {
        var members: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: server),
            .init(service: HousekeepingService(services: services, logger: logger)),
        ]
        if let idleExit {
            // Its return (the server was idle long enough) is a graceful stop of the whole group.
            members.append(.init(service: idleExit, successTerminationBehavior: .gracefullyShutdownGroup))
        }
        // Last in the list, first to stop.
        members.append(.init(service: BrokerService(broker: services.broker, logger: logger)))
        return ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: members, gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [],
                logger: logger))
    }
}
