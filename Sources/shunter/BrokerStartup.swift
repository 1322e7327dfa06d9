import ArgumentParser
import Logging
import ShunterHandlers
import ShunterServer

/// The start of every command that runs a broker: logging at the config's level, then the
/// services, with configuration errors printed one per line and exit code 2.
enum BrokerStartup {
    static func logger(for config: BrokerConfig) -> Logger {
        let level = Logger.Level(rawValue: config.logLevel.rawValue) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: "shunter")
    }

    static func openServices(config: BrokerConfig, logger: Logger, command: String) async throws -> ShunterServices {
        do {
            return try await ShunterServices.open(config: config, logger: logger)
        } catch let errors as ConfigErrors {
            for error in errors.errors { printError("\(error)") }
            throw ShunterExit.invalidConfiguration
        } catch {
            printError("\(command): cannot start: \(error)")
            throw ShunterExit.invalidConfiguration
        }
    }
}
