import Logging
import ServiceLifecycle
import ShunterServer

/// Ends the process's service group once the server has been idle for `limit`
/// (`shunter seamless-jobserver --timeout`): the group is configured to shut down gracefully
/// when this service returns, the same stop as a SIGTERM from the launcher.
package struct IdleExitService: Service {
    let activity: ActivityTracker
    let limit: Duration
    let logger: Logger

    package init(activity: ActivityTracker, limit: Duration, logger: Logger) {
        self.activity = activity
        self.limit = limit
        self.logger = logger
    }

    package func run() async {
        do {
            try await cancelWhenGracefulShutdown {
                try await activity.waitUntilIdle(for: limit)
            }
        } catch {
            // A stop started elsewhere (a signal) ended the wait: nothing more to do.
            return
        }
        logger.notice("no request for \(limit): stopping (--timeout)")
    }
}
