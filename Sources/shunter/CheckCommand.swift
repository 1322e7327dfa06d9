import ArgumentParser
import Foundation
import ShunterEnvironments
import ShunterHandlers
import ShunterRuntime
import ShunterServer

/// `shunter check`: validates the config and handler files and shows which handler takes what.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate the broker config and handler YAML; show which handler takes which job.",
        discussion: """
            Prints the handlers in the order they are tried, with what each accepts, then every error as FILE:LINE:COLUMN: message. Exits 2 if anything is invalid.

              shunter check                         # config/shunter.yaml and its handlers
              shunter check handlers/30-mine.yaml   # these handler files instead
            """
    )

    @Option(help: "The broker config file.") var config: String?
    @Argument(help: "Handler files to check instead of the config's handlers.") var handlerFiles: [String] = []

    func run() throws {
        // The validation `serve` runs before it opens anything: `check` accepts exactly what
        // `serve` accepts.
        let report = StartupValidation.check(
            configPath: config, handlerFiles: handlerFiles, currentDirectory: FileManager.default.currentDirectoryPath)
        if let environments = report.config?.environments {
            let catalog = EnvironmentCatalog(directory: environments.definitions)
            let names = catalog.names()
            print(
                "Conda environments (\(environments.definitions)): \(names.isEmpty ? "none defined" : names.joined(separator: ", "))"
            )
            print(
                "  built under \(environments.root) by the first of: \(environments.managers.joined(separator: ", "))\n"
            )
        }
        print(renderCheckReport(report))
        if !report.isValid { throw ShunterExit.invalidConfiguration }
    }
}
