import ArgumentParser
import Foundation
import Logging
import ShunterCore
import ShunterEnvironments
import ShunterHandlers

/// `shunter env`: the conda environments of a broker's config, handled directly on disk with
/// the broker's own store and locks (a running broker sees what this builds, and never the
/// other way round: a build here and one in the broker wait for each other).
struct EnvironmentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "env",
        abstract: "List, build ahead of time, or prune the conda environments jobs run in.",
        discussion: """
              shunter env list                 # defined names and built environments
              shunter env build numpy-pip      # build now, so the first job does not wait
              shunter env build --file my.yml  # a spec file that is not in conda-envs/
              shunter env prune --unused-for 0 # remove every environment no job uses now

            Safe beside a running broker on the same config: builds wait for the broker's builds of the same environment and the other way round, and prune never removes an environment a job has leased. It does not touch the journal, the work root or the buffer store.
            """,
        subcommands: [List.self, Build.self, Prune.self]
    )

    struct ConfigOption: ParsableArguments {
        @Option(help: "The broker config file (default: config/shunter.yaml, else the built-in defaults).")
        var config: String?

        func store(keepUnused: Duration? = nil) throws -> EnvironmentStore {
            let loaded = BrokerConfigLoader.resolve(
                explicitPath: config, currentDirectory: FileManager.default.currentDirectoryPath)
            guard var environments = loaded.config?.environments else {
                for error in loaded.errors { printError("\(error)") }
                throw ShunterExit.invalidConfiguration
            }
            if let keepUnused { environments.keepUnused = keepUnused }
            LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
            return EnvironmentStore(
                config: environments,
                managers: EnvironmentManagerRegistry.managers(
                    for: environments, environment: ProcessInfo.processInfo.environment),
                logger: Logger(label: "shunter.env"))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the defined names and the built environments.")
        @OptionGroup var options: ConfigOption

        func run() async throws {
            let store = try options.store()
            let names = store.catalog.names()
            print("Defined in \(store.config.definitions): \(names.isEmpty ? "none" : names.joined(separator: ", "))")
            let built = await store.inventory()
            print("Built under \(store.config.root): \(built.isEmpty ? "none" : "")")
            let formatter = ISO8601DateFormatter()
            for environment in built {
                let lastUsed =
                    environment.lastUsed.map { formatter.string(from: Date(timeIntervalSince1970: $0)) } ?? "never"
                print(
                    "  \(environment.label)  \(environment.identity.prefix(16))  \(environment.kind.rawValue) by \(environment.manager)  last used \(lastUsed)"
                )
                print("    \(environment.prefix)  (from \(environment.origin))")
            }
        }
    }

    struct Build: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build environments now (those that exist already are left as they are).")
        @OptionGroup var options: ConfigOption
        @Option(name: .long, help: "An environment.yml to build instead of names.") var file: String?
        @Argument(help: "Names defined in the definitions directory.") var names: [String] = []

        func validate() throws {
            if names.isEmpty && file == nil { throw ValidationError("name an environment, or give --file") }
        }

        func run() async throws {
            let store = try options.store()
            var specs: [EnvironmentSpec] = []
            do throws(EnvironmentError) {
                for name in names {
                    guard let spec = try store.spec(for: TransformationEnvironment(condaEnvironment: name)) else {
                        throw store.unknown(name)
                    }
                    specs.append(spec)
                }
                if let file {
                    do throws(ConfigErrors) {
                        var spec = try EnvironmentSpecParser.parse(file: file)
                        if spec.channels.isEmpty { spec.channels = store.config.channels }
                        specs.append(spec)
                    } catch {
                        throw .badSpec(origin: file, error)
                    }
                }
            } catch {
                printError("\(error)")
                if case .unknownName = error { throw ShunterExit.notFound }
                throw ShunterExit.invalidConfiguration
            }
            var failed = false
            for spec in specs {
                do throws(EnvironmentError) {
                    let ready = try await store.prepare(spec)
                    print("\(spec.label): \(ready.prefix)")
                } catch {
                    printError("\(error)")
                    failed = true
                }
            }
            if failed { throw ShunterExit.jobFailed }
        }
    }

    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove environments unused for environments.keep_unused (or --unused-for); never one in use.")
        @OptionGroup var options: ConfigOption
        @Option(name: .long, help: "A duration such as 7d, 12h or 0 (every environment no job uses now).")
        var unusedFor: String?

        func run() async throws {
            var keep: Duration?
            if let unusedFor {
                guard let parsed = ConfigParsing.duration(parsing: unusedFor) else {
                    throw ValidationError("--unused-for: not a duration: '\(unusedFor)' (write e.g. 7d, 12h, 30m or 0)")
                }
                keep = parsed
            }
            let store = try options.store(keepUnused: keep)
            let removed = store.removeUnused()
            print(removed.isEmpty ? "nothing to remove" : "removed: " + removed.joined(separator: ", "))
        }
    }
}
