import ArgumentParser
import Foundation
import Logging
import ShunterBackends
import ShunterEnvironments
import ShunterHandlers
import ShunterPlugins
import ShunterServer

/// The start of every command that runs a broker: logging at the config's level, then the
/// services, with configuration errors printed one per line and exit code 2.
enum BrokerStartup {
    static func logger(for config: BrokerConfig) -> Logger {
        let level = Logger.Level(rawValue: config.logLevel.rawValue) ?? .info
        // The log handler's timestamps call localtime(), which with TZ unset stats
        // /etc/localtime at every line (glibc re-checks the default zone file); naming that
        // file keeps the same zone and reads it once.
        if getenv("TZ") == nil { setenv("TZ", ":/etc/localtime", 0) }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: "shunter")
    }

    /// Opens the services; a handler whose engine (docker, apptainer) is missing only warns.
    static func openServices(config: BrokerConfig, logger: Logger, command: String) async throws -> ShunterServices {
        do {
            let services = try await ShunterServices.open(config: config, logger: logger)
            for warning in await BackendAvailability.warnings(for: services.handlers) { logger.warning("\(warning)") }
            for error in services.environments.catalog.validate() {
                logger.warning("jobs asking for this conda environment will fail: \(error)")
            }
            return services
        } catch let errors as ConfigErrors {
            for error in errors.errors { printError("\(error)") }
            throw ShunterExit.invalidConfiguration
        } catch {
            printError("\(command): cannot start: \(error)")
            throw ShunterExit.invalidConfiguration
        }
    }

    /// Runs the broker's periodic chores (removing failed jobs' work directories once kept long
    /// enough, environments unused for `environments.keep_unused`, and the journal's records of
    /// jobs that ended longer than `journal_retention` ago) until the returned task is cancelled.
    static func startHousekeeping(_ services: ShunterServices, logger: Logger) -> Task<Void, Never> {
        Task {
            while !Task.isCancelled {
                _ = await services.janitor.sweep()
                services.environments.removeUnused()
                await services.removeOldJobRecords(logger: logger)
                try? await Task.sleep(for: .seconds(600))
            }
        }
    }
}
