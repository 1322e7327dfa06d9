import Foundation
import Testing

@testable import ShunterHandlers

@Suite struct HandlerLoaderTests {
    let loader = HandlerLoader(catalog: testCatalog)

    func errors(_ yaml: String, file: String = "h.yaml") -> [String] {
        loader.parse(yaml: yaml, file: file).errors.map(\.description)
    }

    @Test func loadsAFullHandler() throws {
        let yaml = """
            name: cluster
            plugin: container-bash
            backend: slurm
            match:
              language: bash
              image: ["rpbs/*", "ubuntu:*"]
              environment: any
            limits: {max_jobs: 32, timeout: 1h30m}
            slurm:
              partition: short
              poll_interval: 5s
            """
        let result = loader.parse(yaml: yaml, file: "handlers/40-slurm.yaml")
        #expect(result.errors.isEmpty, "\(result.errors)")
        let handler = try #require(result.handlers.first)
        #expect(handler.name == "cluster")
        #expect(handler.plugin == "container-bash")
        #expect(handler.backend == "slurm")
        #expect(
            handler.match
                == MatchRules(languages: ["bash"], image: .patterns(["rpbs/*", "ubuntu:*"]), environment: .any))
        #expect(handler.limits == HandlerLimits(maxJobs: 32, timeout: .seconds(5400)))
        #expect(handler.options.keys.sorted() == ["slurm"])
        #expect(handler.options["slurm"]?["partition"] == .string("short", handler.source))
        #expect(handler.source.description == "handlers/40-slurm.yaml:1:1")
    }

    @Test func defaultsComeFromThePluginAndHandlerLimits() throws {
        let result = loader.parse(yaml: "name: p\nplugin: python\nbackend: local\n", file: "p.yaml")
        let handler = try #require(result.handlers.first, "\(result.errors)")
        #expect(handler.match == MatchRules(languages: ["python"], image: .none, environment: .none))
        #expect(handler.limits == HandlerLimits(maxJobs: 8, timeout: nil))
    }

    @Test func unknownKeyWithDidYouMeanAtTheKey() {
        let yaml = """
            name: bash-local
            plugin: bash
            backnd: local
            """
        #expect(
            errors(yaml, file: "handlers/10-bash.yaml") == [
                "handlers/10-bash.yaml:1:1: missing 'backend' in handler 'bash-local'; accepted backends: local, docker, apptainer, slurm",
                "handlers/10-bash.yaml:3:1: unknown key 'backnd' in handler 'bash-local'; accepted keys: name, plugin, backend, enabled, match, limits (did you mean 'backend'?)",
            ])
    }

    @Test func nestedUnknownKeysAreAllReported() {
        let yaml = """
            name: a
            plugin: bash
            backend: local
            match:
              langauge: bash
              images: none
            limits:
              max_job: 2
            """
        #expect(
            errors(yaml) == [
                "h.yaml:5:3: unknown key 'langauge' in 'match' in handler 'a'; accepted keys: language, image, environment (did you mean 'language'?)",
                "h.yaml:6:3: unknown key 'images' in 'match' in handler 'a'; accepted keys: language, image, environment (did you mean 'image'?)",
                "h.yaml:8:3: unknown key 'max_job' in 'limits' in handler 'a'; accepted keys: max_jobs, timeout (did you mean 'max_jobs'?)",
            ])
    }

    @Test func unknownPluginAndBackendListTheAccepted() {
        let yaml = "name: a\nplugin: bsh\nbackend: kubernetes\n"
        #expect(
            errors(yaml) == [
                "h.yaml:2:9: unknown plugin 'bsh'; accepted plugins: bash, container-bash, python (did you mean 'bash'?)",
                "h.yaml:3:10: unknown backend 'kubernetes'; accepted backends: local, docker, apptainer, slurm",
            ])
    }

    @Test func impossiblePairNamesTheCompatibleBackends() {
        #expect(
            errors("name: a\nplugin: bash\nbackend: docker\n") == [
                "h.yaml:3:10: plugin 'bash' cannot run on backend 'docker' in handler 'a'; accepted backends for plugin 'bash': local, slurm"
            ])
    }

    @Test func wrongTypesNameTheKeyAndWhatWasWritten() {
        let yaml = """
            name: a
            plugin: bash
            backend: local
            enabled: maybe
            match: {language: 3, image: {x: 1}}
            limits: {max_jobs: 0, timeout: soon}
            """
        #expect(
            errors(yaml) == [
                "h.yaml:4:10: 'enabled' must be true or false, got the text 'maybe'",
                "h.yaml:5:19: 'match.language' must be text or a list of texts, got the number 3",
                "h.yaml:5:29: 'match.image' must be none, any, a pattern or a list of patterns, got a mapping",
                "h.yaml:6:20: 'limits.max_jobs' must be at least 1, got 0",
                "h.yaml:6:32: 'limits.timeout' is not a duration: the text 'soon'; write a number with units d, h, m, s or ms (30s, 5m, 1h30m, 1d) or a plain number of seconds",
            ])
    }

    @Test func languageThePluginCannotRun() {
        #expect(
            errors("name: a\nplugin: bash\nbackend: local\nmatch: {language: pyhton}\n") == [
                "h.yaml:4:19: plugin 'bash' cannot run language 'pyhton'; accepted languages for plugin 'bash': bash"
            ])
    }

    @Test func optionSectionsBelongToTheHandlersOwnComponents() {
        let yaml = """
            name: a
            plugin: bash
            backend: local
            slurm:
              partition: short
            """
        #expect(
            errors(yaml) == [
                "h.yaml:4:1: section 'slurm' configures backend 'slurm', but the backend in handler 'a' is 'local'; accepted keys: name, plugin, backend, enabled, match, limits"
            ])
        let badKey = """
            name: b
            plugin: bash
            backend: slurm
            slurm:
              partiton: short
            """
        #expect(
            errors(badKey) == [
                "h.yaml:5:3: unknown key 'partiton' in section 'slurm' in handler 'b'; accepted keys: container, defaults, extra_sbatch, partition, poll_interval (did you mean 'partition'?)"
            ])
    }

    @Test func missingNameAndNotAMapping() {
        #expect(
            errors("plugin: bash\nbackend: local\n") == [
                "h.yaml:1:1: missing 'name' in the handler at line 1; give it one, e.g. name: bash-local"
            ])
        #expect(
            errors("just text\n") == [
                "h.yaml:1:1: a handler file holds one handler (a mapping with name, plugin, backend ...) or a list of them, not the text 'just text'"
            ])
        #expect(
            errors("name: 'has space'\nplugin: bash\nbackend: local\n") == [
                "h.yaml:1:7: handler name 'has space' may only hold letters, digits, '-', '_' and '.' (it appears in logs and on the command line)"
            ])
    }

    @Test func brokerConfigInTheHandlersDirectoryIsRecognised() {
        #expect(
            errors("listen: 127.0.0.1:5533\nhash: sha-256\n") == [
                "h.yaml:1:1: this looks like a broker config (listen, store, ...), not a handler file; broker config belongs in config/shunter.yaml"
            ])
    }

    @Test func patternRulesRefuseAmbiguousForms() {
        #expect(
            errors("name: a\nplugin: bash\nbackend: local\nmatch: {image: []}\n") == [
                "h.yaml:4:16: 'match.image' is an empty list, which accepts no job; write 'none' for jobs without image"
            ])
        #expect(
            errors("name: a\nplugin: bash\nbackend: local\nmatch: {environment: [none, x]}\n") == [
                "h.yaml:4:22: 'none' inside a list of 'environment' patterns would be read as a name; write environment: none on its own"
            ])
    }

    @Test func aFileMayHoldAListOfHandlers() throws {
        let yaml = """
            - name: one
              plugin: bash
              backend: local
            - name: two
              plugin: python
              backend: slurm
              enabled: false
            - name: three
              plugin: container-bash
              backend: docker
              match: {image: any}
              docker: {network: none}
            """
        let result = loader.parse(yaml: yaml, file: "many.yaml")
        #expect(result.errors.isEmpty, "\(result.errors)")
        #expect(result.handlers.map(\.name) == ["one", "three"])
        #expect(result.disabled == ["two"])
        #expect(result.handlers[1].source.description == "many.yaml:8:3")
    }

    @Test func directoryLoadsInNumericFileOrderAndCollectsErrorsOfAllFiles() throws {
        try withTemporaryDirectory { dir in
            try write("name: b\nplugin: bash\nbackend: local\n", to: "\(dir)/handlers/10-b.yaml")
            try write("name: a\nplugin: python\nbackend: local\n", to: "\(dir)/handlers/9-a.yml")
            try write("name: c\nplugin: bash\nbackend: slurm\n", to: "\(dir)/handlers/20-c.yaml")
            try write("not: [a handler", to: "\(dir)/handlers/README.md")
            try write("name: hidden", to: "\(dir)/handlers/.00-hidden.yaml")
            let good = loader.load(directory: "\(dir)/handlers")
            #expect(good.errors.isEmpty, "\(good.errors)")
            #expect(good.handlers.map(\.name) == ["a", "b", "c"])
            #expect(good.files.map { ($0 as NSString).lastPathComponent } == ["9-a.yml", "10-b.yaml", "20-c.yaml"])

            try write("name: a\nplugin: bash\nbackend: local\nlimits: {timeout: x}\n", to: "\(dir)/handlers/30-d.yaml")
            try write("name: e\nplugin: bash\nbackend: docker\n", to: "\(dir)/handlers/40-e.yaml")
            try write("name: a\nplugin: bash\nbackend: local\n", to: "\(dir)/handlers/50-f.yaml")
            let bad = loader.load(directory: "\(dir)/handlers")
            #expect(
                bad.errors.map(\.description) == [
                    "\(dir)/handlers/30-d.yaml:4:19: 'limits.timeout' is not a duration: the text 'x'; write a number with units d, h, m, s or ms (30s, 5m, 1h30m, 1d) or a plain number of seconds",
                    "\(dir)/handlers/40-e.yaml:3:10: plugin 'bash' cannot run on backend 'docker' in handler 'e'; accepted backends for plugin 'bash': local, slurm",
                    "\(dir)/handlers/50-f.yaml:1:7: handler name 'a' is already used at \(dir)/handlers/9-a.yml:1:7; handler names must be unique",
                ])
            #expect(throws: ConfigErrors.self) { try bad.get() }
        }
    }

    @Test func missingOrEmptyDirectoryAndNoEnabledHandler() throws {
        try withTemporaryDirectory { dir in
            #expect(
                loader.load(directory: "\(dir)/nope").errors.map(\.description) == [
                    "\(dir)/nope: handler directory does not exist"
                ])
            try FileManager.default.createDirectory(atPath: "\(dir)/empty", withIntermediateDirectories: true)
            #expect(
                loader.load(directory: "\(dir)/empty").errors.map(\.description) == [
                    "\(dir)/empty: no handler files (*.yaml, *.yml) in this directory"
                ])
            try write("name: off\nplugin: bash\nbackend: local\nenabled: false\n", to: "\(dir)/off.yaml")
            #expect(
                loader.load(files: ["\(dir)/off.yaml"]).errors.map(\.description) == [
                    "\(dir)/off.yaml: no enabled handler in \(dir)/off.yaml: the broker could not run any job"
                ])
        }
    }

    @Test func builtinSourceGivesBashLocal() {
        let result = loader.load(.builtin)
        #expect(result.errors.isEmpty)
        #expect(result.handlers.map(\.name) == ["bash-local"])
        #expect(result.handlers[0].match == MatchRules(languages: ["bash"], image: .none, environment: .none))
    }
}
