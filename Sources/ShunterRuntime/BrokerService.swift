import Logging
import ServiceLifecycle
import ShunterBroker

/// The broker as a service of the process's service group: it runs the broker (`Broker.run`:
/// its jobs and its journal's commits, all children of this service's task) from the moment
/// the group starts until a graceful shutdown (SIGTERM, SIGINT, the idle exit) or the group's
/// cancellation reaches it; it then stops taking jobs, stops the running ones and commits the
/// journal, so that the next start runs what was left unfinished.
///
/// Listed before the HTTP server in the group, so that it stops first (a group shuts its
/// services down in reverse order): clients waiting for a job get their answer ("broker
/// shutting down") and new submissions a 503 while the server drains its connections.
package struct BrokerService: Service {
    let broker: Broker
    let logger: Logger

    package init(broker: Broker, logger: Logger) {
        self.broker = broker
        self.logger = logger
    }

    package func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await broker.run() }
            // Returns at the graceful shutdown; throws at cancellation (which reaches the
            // broker's jobs too). The journal is committed either way, and the group waits
            // for `run()` to end.
            try? await gracefulShutdown()
            logger.notice("stopping: running jobs are stopped and will run again on the next start")
            await broker.shutdown()
        }
    }
}
