import Foundation
import ShunterCore
import Testing

@testable import ShunterHandlers

@Suite struct BrokerConfigLoaderTests {
    @Test func fullConfigResolvesPathsAgainstRoot() throws {
        let yaml = """
            root: ..
            listen: 0.0.0.0:6000
            hash: sha3-256
            store:
              buffers: {url: http://store.example:5577}
              results: /srv/results.sqlite
              promise_timeout: 2m
            journal: var/j.sqlite
            workdir: ~/work
            keep_failed_workdirs: 0
            handlers: [handlers/a.yaml, /etc/shunter/b.yml]
            log_level: debug
            """
        let config = try BrokerConfigLoader.parse(yaml: yaml, file: "/opt/shunter/config/shunter.yaml").get()
        #expect(config.root == "/opt/shunter")
        #expect(config.listen == ListenAddress(host: "0.0.0.0", port: 6000))
        #expect(config.hash == .sha3_256)
        #expect(
            config.store
                == StoreConfig(
                    buffers: .url("http://store.example:5577"), results: .path("/srv/results.sqlite"),
                    promiseTimeout: .seconds(120)))
        #expect(config.journal == "/opt/shunter/var/j.sqlite")
        let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
        #expect(config.workdir == URL(fileURLWithPath: home + "/work").standardizedFileURL.path)
        #expect(config.keepFailedWorkdirs == .zero)
        #expect(config.handlers == .files(["/opt/shunter/handlers/a.yaml", "/etc/shunter/b.yml"]))
        #expect(config.logLevel == .debug)
        #expect(config.file == "/opt/shunter/config/shunter.yaml")
    }

    @Test func environmentsSection() throws {
        let yaml = """
            environments:
              definitions: envs
              root: /scratch/shunter-envs
              managers: [micromamba, rattler]
              channels: [conda-forge, bioconda]
              keep_unused: 7d
              build_timeout: 30m
              tools_python: tools/bin/python
              executables: {micromamba: /opt/mm/bin/micromamba}
            """
        let config = try BrokerConfigLoader.parse(yaml: yaml, file: "/opt/shunter/shunter.yaml").get()
        let environments = config.environments
        #expect(environments.definitions == "/opt/shunter/envs")
        #expect(environments.root == "/scratch/shunter-envs")
        #expect(environments.managers == ["micromamba", "rattler"])
        #expect(environments.channels == ["conda-forge", "bioconda"])
        #expect(environments.keepUnused == .seconds(7 * 86_400))
        #expect(environments.buildTimeout == .seconds(1800))
        #expect(environments.toolsPython == "/opt/shunter/tools/bin/python")
        #expect(environments.executables == ["micromamba": "/opt/mm/bin/micromamba"])

        let defaults = try BrokerConfigLoader.parse(yaml: "", file: "/srv/s/shunter.yaml").get().environments
        #expect(defaults.definitions == "/srv/s/conda-envs")
        #expect(defaults.root == "/srv/s/var/envs")
        #expect(defaults.managers == ["venv", "micromamba", "mamba", "conda", "rattler"])

        let bad = BrokerConfigLoader.parse(
            yaml: "environments:\n  managers: [micromambo]\n  keep_unsed: 1d\n", file: "/srv/s/shunter.yaml")
        let text = bad.errors.map(\.description).joined(separator: "\n")
        #expect(text.contains("shunter.yaml:3:3: unknown key 'keep_unsed' in 'environments'"))
        #expect(bad.config == nil)
        let badManager = BrokerConfigLoader.parse(
            yaml: "environments: {managers: [micromambo]}\n", file: "/srv/s/shunter.yaml")
        #expect(badManager.errors.first?.description.contains("unknown environment manager 'micromambo'") == true)
        #expect(badManager.errors.first?.description.contains("did you mean 'micromamba'") == true)
    }

    @Test func emptyFileMeansDefaultsRootedAtTheConfigDirectory() throws {
        let config = try BrokerConfigLoader.parse(yaml: "# nothing\n", file: "/srv/s/shunter.yaml").get()
        #expect(config.root == "/srv/s")
        #expect(config.listen.description == "127.0.0.1:5533")
        #expect(config.hash == .sha256)
        #expect(
            config.store
                == StoreConfig(buffers: .path("/srv/s/var/buffers"), results: .path("/srv/s/var/results.sqlite")))
        #expect(config.journal == "/srv/s/var/journal.sqlite")
        #expect(config.workdir == "/srv/s/var/work")
        #expect(config.keepFailedWorkdirs == .seconds(86_400))
        #expect(config.handlers == .directory("/srv/s/handlers"))
        #expect(config.logLevel == .info)
    }

    @Test func maxResultSizeIsASizeAboveZero() throws {
        let config = try BrokerConfigLoader.parse(yaml: "max_result_size: 512M", file: "/c/shunter.yaml").get()
        #expect(config.maxResultSize == 512 << 20)
        #expect(BrokerConfig.defaults(root: "/c").maxResultSize == 1 << 30)
        let errors = BrokerConfigLoader.parse(yaml: "max_result_size: 0\n", file: "c.yaml").errors.map(\.description)
        #expect(errors == ["c.yaml:1:18: 'max_result_size' must be more than 0 bytes"])
        let words = BrokerConfigLoader.parse(yaml: "max_result_size: big\n", file: "c.yaml").errors.map(\.description)
        #expect(words.first?.hasPrefix("c.yaml:1:18: 'max_result_size' is not a size") == true)
    }

    @Test func journalRetentionIsADurationAboveZero() throws {
        let config = try BrokerConfigLoader.parse(yaml: "journal_retention: 30d", file: "/c/shunter.yaml").get()
        #expect(config.journalRetention == .seconds(30 * 86_400))
        #expect(BrokerConfig.defaults(root: "/c").journalRetention == .seconds(7 * 86_400))
        let errors = BrokerConfigLoader.parse(yaml: "journal_retention: 0\n", file: "c.yaml").errors.map(\.description)
        #expect(errors.count == 1)
        #expect(errors.first?.hasPrefix("c.yaml:1:20: 'journal_retention' must be longer than 0") == true, "\(errors)")
    }

    @Test func httpLimits() throws {
        #expect(
            BrokerConfig.defaults(root: "/c").http
                == HTTPServerLimits(idleTimeout: .seconds(120), bodyTimeout: .seconds(600), maxConnections: 512))
        let config = try BrokerConfigLoader.parse(
            yaml: "http:\n  idle_timeout: 30s\n  body_timeout: 0\n  max_connections: 64\n", file: "/c/shunter.yaml"
        ).get()
        #expect(config.http == HTTPServerLimits(idleTimeout: .seconds(30), bodyTimeout: nil, maxConnections: 64))
        let errors = BrokerConfigLoader.parse(yaml: "http:\n  max_connections: 0\n  idle: 3s\n", file: "c.yaml").errors
            .map(\.description)
        #expect(errors.count == 1)
        #expect(errors.first?.hasPrefix("c.yaml:3:3: unknown key 'idle' in 'http'") == true, "\(errors)")
        let zero = BrokerConfigLoader.parse(yaml: "http:\n  max_connections: 0\n", file: "c.yaml").errors.map(
            \.description)
        #expect(zero == ["c.yaml:2:20: 'http.max_connections' must be at least 1, got 0"])
    }

    @Test func everyErrorIsReportedWithItsPlace() {
        let yaml = """
            listen: localhost
            hash: sha256
            stor: {}
            store:
              buffers: {url: ftp://x}
              results: {path: a, url: http://b}
            keep_failed_workdirs: forever
            log_level: verbose
            handlers: 3
            """
        let errors = BrokerConfigLoader.parse(yaml: yaml, file: "c.yaml").errors.map(\.description)
        #expect(
            errors == [
                "c.yaml:3:1: unknown key 'stor' in the broker config; accepted keys: listen, hash, root, store, journal, workdir, keep_failed_workdirs, handlers, environments, log_level, max_result_size, journal_retention, keep_failed_workdirs_max_size, http, auth, tls (did you mean 'store'?)",
                "c.yaml:1:9: 'listen' must be host:port with a port from 0 to 65535, got 'localhost'; accepted forms: 127.0.0.1:5533, 0.0.0.0:5533, [::1]:5533, 5533",
                "c.yaml:2:7: unknown hash 'sha256'; accepted values: sha-256, sha3-256 (did you mean 'sha-256'?)",
                "c.yaml:5:18: 'store.buffers.url' must be an http:// or https:// URL of a hashserver, got 'ftp://x'",
                "c.yaml:7:23: 'keep_failed_workdirs' is not a duration: the text 'forever'; write a number with units d, h, m, s or ms (30s, 5m, 1h30m, 1d) or a plain number of seconds",
                "c.yaml:8:12: unknown log_level 'verbose'; accepted values: trace, debug, info, notice, warning, error, critical",
                "c.yaml:9:11: 'handlers' must be a directory or a list of handler files, got the number 3",
            ])
    }

    @Test func storeTakesPathOrUrlNotBoth() {
        let errors = BrokerConfigLoader.parse(yaml: "store:\n  results: {path: a, url: http://b}\n", file: "c.yaml")
            .errors
        #expect(errors.map(\.description) == ["c.yaml:2:12: 'store.results' takes either 'path' or 'url', not both"])
    }

    @Test(arguments: [
        ("127.0.0.1:5533", "127.0.0.1", 5533), ("[::1]:80", "::1", 80), (":5533", "0.0.0.0", 5533),
        ("5533", "127.0.0.1", 5533), ("localhost:0", "localhost", 0),
    ])
    func listenForms(text: String, host: String, port: Int) {
        #expect(ListenAddress(parsing: text) == ListenAddress(host: host, port: port))
    }

    @Test(arguments: ["localhost", "host:99999", "::1:80", "a b:1", "[::1]80"])
    func badListenForms(text: String) {
        #expect(ListenAddress(parsing: text) == nil)
    }

    @Test func environmentOverridesTheFile() throws {
        let environment = [
            "SHUNTER_LISTEN": "0.0.0.0:7000", "SHUNTER_HASH": "sha3-256", "SHUNTER_LOG_LEVEL": "trace",
            "SHUNTER_HANDLERS": "my-handlers",
        ]
        let config = try BrokerConfigLoader.parse(
            yaml: "listen: 127.0.0.1:1\n", file: "/r/config/shunter.yaml", environment: environment,
            currentDirectory: "/home/admin"
        ).get()
        #expect(config.listen.port == 7000)
        #expect(config.hash == .sha3_256)
        #expect(config.logLevel == .trace)
        #expect(config.handlers == .directory("/home/admin/my-handlers"))
        let oneFile = try BrokerConfigLoader.parse(yaml: "handlers: extra/h.yml\n", file: "/r/c.yaml").get()
        #expect(oneFile.handlers == .files(["/r/extra/h.yml"]))
        let bad = BrokerConfigLoader.parse(yaml: "", file: "/r/c.yaml", environment: ["SHUNTER_HASH": "md5"])
        #expect(
            bad.errors.map(\.description) == ["$SHUNTER_HASH: unknown hash 'md5'; accepted values: sha-256, sha3-256"])
    }

    @Test func resolvePrefersExplicitThenConfigDirectoryThenBuiltin() throws {
        try withTemporaryDirectory { dir in
            let builtin = try BrokerConfigLoader.resolve(explicitPath: nil, currentDirectory: dir, environment: [:])
                .get()
            #expect(builtin.file == nil)
            #expect(builtin.handlers == .builtin)
            #expect(builtin.journal == "\(dir)/var/journal.sqlite")

            try FileManager.default.createDirectory(atPath: "\(dir)/handlers", withIntermediateDirectories: true)
            let withHandlers = try BrokerConfigLoader.resolve(
                explicitPath: nil, currentDirectory: dir, environment: [:]
            ).get()
            #expect(withHandlers.handlers == .directory("\(dir)/handlers"))

            try write("root: ..\nlisten: 127.0.0.1:9\n", to: "\(dir)/config/shunter.yaml")
            let found = try BrokerConfigLoader.resolve(explicitPath: nil, currentDirectory: dir, environment: [:]).get()
            #expect(found.listen.port == 9)
            #expect(found.root == dir)

            try write("listen: 127.0.0.1:10\n", to: "\(dir)/other.yaml")
            let explicit = try BrokerConfigLoader.resolve(
                explicitPath: "other.yaml", currentDirectory: dir, environment: [:]
            ).get()
            #expect(explicit.listen.port == 10)
            #expect(explicit.root == dir)

            let missing = BrokerConfigLoader.resolve(explicitPath: "nope.yaml", currentDirectory: dir, environment: [:])
            #expect(missing.errors.map(\.description) == ["\(dir)/nope.yaml: cannot read file: no such file"])
        }
    }
}
