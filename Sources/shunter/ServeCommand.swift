import ArgumentParser
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import ShunterBackends
import ShunterBroker
import ShunterCore
import ShunterHandlers
import ShunterPlugins
import ShunterRuntime
import ShunterServer

/// `shunter serve`: the broker itself.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the broker: the jobserver, buffer and database APIs on one port.",
        discussion: """
            Reads --config (default: config/shunter.yaml under the current directory if it exists, else built-in defaults: store under ./var, handlers from ./handlers). Jobs that were queued or running when the broker last stopped are run again.

            SIGTERM or SIGINT stops it gracefully; running jobs are stopped and run again on the next start.

            One broker per journal, work root and buffer store: each is locked (JOURNAL.lock, WORKDIR.lock, BUFFERS.lock beside it, naming the holder's pid, host and start time) and a second broker on any of them is refused with exit code 5. A lock whose holder is gone is taken over. Beside a running broker, `shunter env` may list, build and prune environments (it shares the broker's environment locks), and `shunter buffer`, `run` and `jobs` talk to the broker over HTTP.
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
        let logger = BrokerStartup.logger(for: brokerConfig)
        let access = try BrokerStartup.httpAccess(config: brokerConfig, logger: logger, command: "shunter")
        let services = try await BrokerStartup.openServices(config: brokerConfig, logger: logger, command: "shunter")
        logger.notice(
            "Shunter \(ShunterVersion.current) listening",
            metadata: [
                "address": "\(brokerConfig.listen)", "config": "\(brokerConfig.file ?? "built-in defaults")",
                "buffers": "\(brokerConfig.store.buffers)", "results": "\(brokerConfig.store.results)",
                "handlers": "\(services.handlers.map(\.name).joined(separator: ","))",
                "hash": "\(brokerConfig.hash.rawValue)",
            ])

        let server = ShunterApplication.make(services: services, access: access, logger: logger) {
            // The listening socket and the event loops' epoll sets are NIO's, opened without
            // close-on-exec: marked now, before any job or crash reporter can start.
            BrokerProcessGuards.closeDescriptorsOnExec()
        }
        try await BrokerServiceGroup.make(services: services, server: server, logger: logger).run()
    }
}
