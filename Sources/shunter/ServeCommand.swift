import ArgumentParser
import Foundation
import Hummingbird
import Logging
import ShunterBackends
import ShunterBroker
import ShunterCore
import ShunterHandlers
import ShunterPlugins
import ShunterServer

/// `shunter serve`: the broker itself.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the broker: the jobserver, buffer and database APIs on one port.",
        discussion: """
            Reads --config (default: config/shunter.yaml under the current directory if it exists, else built-in defaults: store under ./var, handlers from ./handlers). Jobs that were queued or running when the broker last stopped are run again.

            SIGTERM or SIGINT stops it gracefully; running jobs are stopped and run again on the next start.
            """
    )

    @Option(help: "The broker config file.") var config: String?
    @Option(help: "Listen on HOST:PORT instead of the config's address.") var listen: String?

    func run() async throws {
        let loaded = BrokerConfigLoader.resolve(
            explicitPath: config, currentDirectory: FileManager.default.currentDirectoryPath)
        guard var brokerConfig = loaded.config else {
            for error in loaded.errors { printError("\(error)") }
            throw ShunterExit.invalidConfiguration
        }
        if let listen {
            guard let address = ListenAddress(parsing: listen) else {
                throw ValidationError("--listen takes HOST:PORT, got '\(listen)'")
            }
            brokerConfig.listen = address
        }
        let level = Logger.Level(rawValue: brokerConfig.logLevel.rawValue) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "shunter")

        let services: ShunterServices
        do {
            services = try await ShunterServices.open(config: brokerConfig, logger: logger)
        } catch let errors as ConfigErrors {
            for error in errors.errors { printError("\(error)") }
            throw ShunterExit.invalidConfiguration
        } catch {
            printError("shunter: cannot start: \(error)")
            throw ShunterExit.invalidConfiguration
        }
        // A handler whose engine (docker, apptainer) is missing warns instead of stopping the broker.
        for warning in await BackendAvailability.warnings(for: services.handlers) { logger.warning("\(warning)") }
        logger.notice(
            "Shunter \(ShunterVersion.current) listening",
            metadata: [
                "address": "\(brokerConfig.listen)", "config": "\(brokerConfig.file ?? "built-in defaults")",
                "buffers": "\(brokerConfig.store.buffers)", "results": "\(brokerConfig.store.results)",
                "handlers": "\(services.handlers.map(\.name).joined(separator: ","))", "hash": "\(brokerConfig.hash.rawValue)",
            ])

        let sweeper = Task {
            while !Task.isCancelled {
                _ = await services.janitor.sweep()
                try? await Task.sleep(for: .seconds(600))
            }
        }
        defer { sweeper.cancel() }
        try await ShunterApplication.make(services: services, logger: logger).runService()
        logger.notice("stopping: running jobs are stopped and will run again on the next start")
        await services.broker.shutdown()
    }
}
