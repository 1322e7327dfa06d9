import Foundation
import Logging
import ShunterHandlers
import ShunterPlugins
import ShunterRuntime
import ShunterServer
import Testing

/// `check` and `serve` accept exactly the same files, and both name every error at once:
/// option-section values the plugins and backends refuse, places the broker cannot write,
/// a journal that is no database.
@Suite struct StartupValidationTests {
    struct Checkout {
        let root = NSTemporaryDirectory() + "shunter-startup-\(UUID().uuidString)"

        init(config: String, handlers: [String: String]) throws {
            try FileManager.default.createDirectory(atPath: root + "/config", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: root + "/handlers", withIntermediateDirectories: true)
            try config.write(toFile: root + "/config/shunter.yaml", atomically: true, encoding: .utf8)
            for (name, text) in handlers {
                try text.write(toFile: root + "/handlers/" + name, atomically: true, encoding: .utf8)
            }
        }

        /// What `shunter check` reports.
        func checkErrors() -> [String] {
            StartupValidation.check(configPath: root + "/config/shunter.yaml", currentDirectory: root, environment: [:])
                .errors.map(\.description)
        }

        /// What `shunter serve` refuses to start with.
        func serveErrors() async -> [String] {
            let loaded = BrokerConfigLoader.load(file: root + "/config/shunter.yaml", currentDirectory: root)
            guard let config = loaded.config else { return loaded.errors.map(\.description) }
            do {
                _ = try await ShunterServices.open(config: config, logger: Logger(label: "test.startup"))
                return []
            } catch let errors as ConfigErrors {
                return errors.errors.map(\.description)
            } catch {
                return ["\(error)"]
            }
        }

        func remove() { try? FileManager.default.removeItem(atPath: root) }
    }

    static let handlers = [
        "10-bash.yaml": "name: bash-local\nplugin: bash\nbackend: local\n",
        "20-slurm.yaml": "name: cluster\nplugin: bash\nbackend: slurm\nslurm:\n  memory: lots\n",
        "30-docker.yaml": """
        name: docker
        plugin: container-bash
        backend: docker
        match: {image: ["ubuntu:*"]}
        docker:
          network: bridge
        container-bash:
          default_image: evil/miner:1

        """,
    ]

    @Test("option-section values and places are errors for check and serve alike, all at once")
    func checkAndServeAgree() async throws {
        let checkout = try Checkout(config: "root: ..\n", handlers: Self.handlers)
        defer { checkout.remove() }
        // The root's var is a file: no work directory, buffer directory or database can be made under it.
        try "not a directory".write(toFile: checkout.root + "/var", atomically: true, encoding: .utf8)
        let checked = checkout.checkErrors()
        #expect(
            checked.contains {
                $0.hasPrefix(checkout.root + "/handlers/20-slurm.yaml:5:11: 'slurm.memory' is not a size")
            }, "\(checked)")
        #expect(
            checked.contains {
                $0.hasPrefix(checkout.root + "/handlers/30-docker.yaml:6:12: 'docker.network' cannot be 'bridge'")
            }, "\(checked)")
        #expect(
            checked.contains { $0.contains("'container-bash.default_image' evil/miner:1 is not allowed") }, "\(checked)"
        )
        for setting in ["workdir", "store.buffers", "store.results", "journal"] {
            #expect(
                checked.contains {
                    $0.contains("'\(setting)' \(checkout.root)/var/") && $0.contains("is a file, not a directory")
                },
                "\(setting): \(checked)")
        }
        #expect(checked.count == 7, "\(checked)")
        let served = await checkout.serveErrors()
        #expect(Set(served) == Set(checked), "serve: \(served)\ncheck: \(checked)")
    }

    @Test("a journal that is no SQLite database is refused by check and serve, at the 'journal' setting")
    func garbageJournal() async throws {
        let checkout = try Checkout(
            config: "root: ..\njournal: var/journal.sqlite\n",
            handlers: ["10-bash.yaml": Self.handlers["10-bash.yaml"]!])
        defer { checkout.remove() }
        try FileManager.default.createDirectory(atPath: checkout.root + "/var", withIntermediateDirectories: true)
        try "garbage, not a database\n".write(
            toFile: checkout.root + "/var/journal.sqlite", atomically: true, encoding: .utf8)
        let checked = checkout.checkErrors()
        #expect(
            checked == [
                "\(checkout.root)/config/shunter.yaml:2:10: 'journal' \(checkout.root)/var/journal.sqlite: is not an SQLite database; "
                    + "move the file away or point the setting at another path"
            ])
        #expect(await checkout.serveErrors() == checked)
        // Nothing was created by either.
        #expect(!FileManager.default.fileExists(atPath: checkout.root + "/var/work"))
    }

    @Test("a config check and serve accept has no errors from either")
    func validConfig() async throws {
        let checkout = try Checkout(config: "root: ..\n", handlers: ["10-bash.yaml": Self.handlers["10-bash.yaml"]!])
        defer { checkout.remove() }
        #expect(checkout.checkErrors().isEmpty)
    }
}
