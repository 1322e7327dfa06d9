import Testing

@testable import ShunterHandlers

/// How `shunter check` renders a report. The report is made here from the config and the
/// handler files alone; building the components is ShunterServer's `StartupValidation`, tested there.
@Suite struct CheckReportTests {
    func loadReport(configPath: String?, currentDirectory: String) -> CheckReport {
        let loaded = BrokerConfigLoader.resolve(
            explicitPath: configPath, currentDirectory: currentDirectory, environment: [:])
        guard let config = loaded.config else {
            return CheckReport(config: nil, handlers: HandlerLoadResult(), errors: loaded.errors, catalog: testCatalog)
        }
        let handlers = HandlerLoader(catalog: testCatalog).load(config.handlers)
        return CheckReport(
            config: config, handlers: handlers, errors: loaded.errors + handlers.errors, catalog: testCatalog)
    }

    @Test func rendersHandlersTableAndErrors() throws {
        try withTemporaryDirectory { dir in
            try write("root: ..\n", to: "\(dir)/config/shunter.yaml")
            try write(
                "name: bash-local\nplugin: bash\nbackend: local\nlimits: {max_jobs: 2, timeout: 90m}\n",
                to: "\(dir)/handlers/10-bash.yaml")
            try write(
                "name: cluster\nplugin: container-bash\nbackend: slurm\nmatch: {image: [\"ubuntu:*\"]}\nslurm: {partition: short}\n",
                to: "\(dir)/handlers/20-cluster.yaml")
            let report = loadReport(configPath: nil, currentDirectory: dir)
            #expect(report.isValid)
            let text = renderCheckReport(report)
            #expect(text.contains("Broker config: \(dir)/config/shunter.yaml"))
            #expect(text.contains("  1. bash-local   (\(dir)/handlers/10-bash.yaml:1:1)"))
            #expect(text.contains("     accepts  language bash, no image, no environment"))
            #expect(text.contains("     limits   2 jobs at once, timeout 1h30m"))
            #expect(text.contains("     accepts  language bash, image ubuntu:*, no environment"))
            #expect(text.contains("     slurm:  {partition: short}"))
            #expect(text.contains("  bash                            ->  bash-local"))
            #expect(text.contains("  bash in image ubuntu:24.04      ->  cluster"))
            #expect(text.contains("  python                          ->  no handler: refused"))
            #expect(text.hasSuffix("OK: configuration is valid.\n"))

            try write("name: bad\nplugin: bash\nbackend: docker\n", to: "\(dir)/handlers/30-bad.yaml")
            let broken = loadReport(configPath: nil, currentDirectory: dir)
            #expect(!broken.isValid)
            #expect(
                renderCheckReport(broken).hasSuffix(
                    "1 error:\n\(dir)/handlers/30-bad.yaml:3:10: plugin 'bash' cannot run on backend 'docker' in handler 'bad'; accepted backends for plugin 'bash': local, slurm\n"
                ))
        }
    }

    @Test func invalidConfigStillReportsItsErrors() throws {
        try withTemporaryDirectory { dir in
            try write("lisen: 1\n", to: "\(dir)/c.yaml")
            let report = loadReport(configPath: "c.yaml", currentDirectory: dir)
            #expect(report.config == nil)
            let text = renderCheckReport(report)
            #expect(text.hasPrefix("Broker config: invalid"))
            #expect(text.contains("\(dir)/c.yaml:1:1: unknown key 'lisen' in the broker config"))
            #expect(text.contains("(did you mean 'listen'?)"))
        }
    }
}
