import Logging
import NIOPosix
import ServiceLifecycle
import ShunterBackends
import ShunterEnvironments
import ShunterPlugins
import ShunterServer
import ShunterStore

/// The broker's periodic chores, as a service: removing failed jobs' work directories once
/// kept long enough, environments unused for `environments.keep_unused`, temporary files of
/// interrupted buffer writes, and the journal's records of jobs that ended longer than
/// `journal_retention` ago. Stops at the group's graceful shutdown.
package struct HousekeepingService: Service {
    let services: ShunterServices
    let interval: Duration
    let logger: Logger

    package init(services: ShunterServices, interval: Duration = .seconds(600), logger: Logger) {
        self.services = services
        self.interval = interval
        self.logger = logger
    }

    package func run() async {
        // A group's graceful shutdown cancels the sleep; that is this service's normal end,
        // not a failure (which would cancel the rest of the group instead of letting it drain).
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await sweep()
                try await Task.sleep(for: interval)
            }
        }
    }

    /// One round of every chore.
    package func sweep() async {
        let services = self.services
        _ = await services.janitor.sweep()
        // Removing an environment is file-system work that can take long: on NIO's
        // blocking-I/O pool, not on the tasks' threads.
        _ = try? await NIOThreadPool.singleton.runIfActive {
            _ = services.environments.removeUnused()
        }
        if let store = services.buffers as? FileBufferStore { await store.removeInterruptedWrites() }
        // Descriptors libraries opened since without close-on-exec (accepted connections).
        BrokerProcessGuards.closeDescriptorsOnExec()
        await services.removeOldJobRecords(logger: logger)
    }
}
