import Foundation
import ShunterBackends
import ShunterBroker
import ShunterHandlers
import ShunterPlugins
import ShunterRuntime
import ShunterServer
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// `shunter check` and `shunter serve` give every handler file the same verdict with the same
/// messages: each file of the corpus goes through check's path (`StartupValidation.check`) and
/// through serve's (`ShunterServices.validatedHandlers`, then `HandlerRuntime.build` as
/// `ShunterServices.open` builds the running handlers). A refused file is refused by both at
/// the file:line:column of the value, with the message the corpus expects.
@Suite struct CheckServeAgreementTests {
    /// One handler file. `refusal`: nil when both must accept it; else the message both must
    /// give, at the place of the value on the file's last line (where every bad value is written).
    struct Case: Sendable, CustomTestStringConvertible {
        let handler: String
        let refusal: String?
        var testDescription: String { handler.split(separator: "\n").last.map(String.init) ?? handler }

        static func good(_ handler: String) -> Case { Case(handler: handler, refusal: nil) }
        static func bad(_ handler: String, _ refusal: String) -> Case { Case(handler: handler, refusal: refusal) }
    }

    static let bash = "name: t\nplugin: bash\nbackend: local\n"
    static let python = "name: t\nplugin: python\nbackend: local\n"
    static let docker = "name: t\nplugin: container-bash\nbackend: docker\nmatch: {image: any}\n"
    static let apptainer = "name: t\nplugin: container-bash\nbackend: apptainer\nmatch: {image: any}\n"
    static let slurm = "name: t\nplugin: bash\nbackend: slurm\n"
    static let containerOnSlurm = "name: t\nplugin: container-bash\nbackend: slurm\nmatch: {image: any}\n"

    static let cases: [Case] = [
        // Accepted: defaults, null sections and null values (null is "not set": the default).
        .good(bash),
        .good(bash + "bash:\n"),
        .good(bash + "bash: {shell: null, pass_environment: ~, conda_root: }\n"),
        .good(bash + "bash: {shell: /bin/bash, pass_environment: [PATH, HOME], conda_root: /opt/conda}\n"),
        .good(bash + "local: {run_as: \(geteuid())}\n"),
        .good(bash + "local: {run_as: }\n"),
        .good(
            python
                + "python: {interpreter: python3, pass_environment: PATH, warm: false, warm_start: first-job, warm_idle_timeout: 5m}\n"
        ),
        .good(python + "python: {warm: ~, warm_start: ~, warm_idle_timeout: ~}\n"),
        .good(docker + "container-bash: {default_image: \"ubuntu:24.04\", allowed_images: [\"ubuntu:*\"], shell: ~}\n"),
        .good(
            docker
                + "docker: {network: host, cpus: 1.5, memory: 2G, init: false, drop_capabilities: true, extra_args: --shm-size=1g}\n"
        ),
        .good(docker + "docker: {network: null, cpus: null, memory: null, image_dir: null}\n"),
        .good(apptainer + "apptainer: {containall: false, no_privs: true, image_dir: /tmp, extra_args: []}\n"),
        .good(apptainer + "apptainer:\n"),
        .good(
            slurm + "slurm: {partition: short, account: lab, qos: normal, cores: 2, memory: 4G, walltime: 1h, gpus: 0, "
                + "sbatch: [--nice=5], poll_interval: 2s, max_poll_interval: 30s, submit_concurrency: 8, command_timeout: 30s, "
                + "accounting: false, bin_dir: /usr/bin, marker_wait: 0s}\n"),
        .good(slurm + "slurm: {partition: ~, accounting: null, container: ~}\n"),
        .good(
            containerOnSlurm
                + "slurm:\n  container: {runtime: singularity, image_dir: /images, containall: false, no_privs: ~}\n"),

        // bash
        .bad(bash + "bash:\n  shell: 5\n", "'bash.shell' must be text, got the number 5"),
        .bad(
            bash + "bash:\n  pass_environment: {PATH: 1}\n",
            "'bash.pass_environment' must be text or a list of texts, got a mapping"),
        .bad(bash + "bash:\n  conda_root: true\n", "'bash.conda_root' must be text, got the boolean true"),
        .bad(bash + "bash: 5\n", "'bash' must be a mapping, got the number 5"),
        // local
        .bad(bash + "local:\n  run_as: [nobody]\n", "'local.run_as' must be a name or a number, got a list"),
        .bad(
            bash + "local:\n  run_as: no-such-user-of-shunter\n",
            "'local.run_as' names user 'no-such-user-of-shunter', which this machine does not have"),
        // python
        .bad(python + "python:\n  warm: maybe\n", "'python.warm' must be true or false, got the text 'maybe'"),
        .bad(
            python + "python:\n  warm_start: later\n",
            "'python.warm_start' cannot be 'later'; accepted values: first-job, broker-start"),
        .bad(
            python + "python:\n  warm_idle_timeout: 0s\n",
            "'python.warm_idle_timeout' must be longer than 0s, got the text '0s'"),
        .bad(
            python + "python:\n  warm_idle_timeout: 400d\n",
            "'python.warm_idle_timeout' must be at most 366d, got the text '400d'"),
        .bad(python + "python:\n  interpreter: [python3]\n", "'python.interpreter' must be text, got a list"),
        // container-bash
        .bad(docker + "container-bash:\n  default_image: \"Bad Image\"\n", "'container-bash.default_image'"),
        .bad(docker + "container-bash:\n  allowed_images: []\n", "'container-bash.allowed_images' is empty"),
        .bad(
            docker + "container-bash:\n  pass_environment: 5\n",
            "'container-bash.pass_environment' must be text or a list of texts, got the number 5"),
        // docker
        .bad(
            docker + "docker:\n  network: bridge\n", "'docker.network' cannot be 'bridge'; accepted values: none, host"),
        .bad(
            docker + "docker:\n  cpus: 0\n",
            "'docker.cpus' must be greater than 0 and at most 1048576, got the number 0"),
        .bad(docker + "docker:\n  cpus: lots\n", "'docker.cpus' must be a number, got the text 'lots'"),
        .bad(docker + "docker:\n  memory: lots\n", "'docker.memory' is not a size: the text 'lots'"),
        .bad(docker + "docker:\n  init: yes\n", "'docker.init' must be true or false, got the text 'yes'"),
        .bad(
            docker + "docker:\n  drop_capabilities: \"true\"\n",
            "'docker.drop_capabilities' must be true or false, got the text 'true'"),
        .bad(
            docker + "docker:\n  extra_args: {a: b}\n",
            "'docker.extra_args' must be text or a list of texts, got a mapping"),
        .bad(docker + "docker:\n  executable: 5\n", "'docker.executable' must be text, got the number 5"),
        .bad(docker + "docker:\n  image_dir: []\n", "'docker.image_dir' must be text, got a list"),
        // apptainer
        .bad(
            apptainer + "apptainer:\n  containall: maybe\n",
            "'apptainer.containall' must be true or false, got the text 'maybe'"),
        .bad(apptainer + "apptainer:\n  no_privs: 1\n", "'apptainer.no_privs' must be true or false, got the number 1"),
        .bad(apptainer + "apptainer:\n  image_dir: 5\n", "'apptainer.image_dir' must be text, got the number 5"),
        .bad(apptainer + "apptainer:\n  executable: \"\"\n", "'apptainer.executable' must not be empty"),
        .bad(
            apptainer + "apptainer:\n  extra_args: 5\n",
            "'apptainer.extra_args' must be text or a list of texts, got the number 5"),
        // slurm
        .bad(slurm + "slurm:\n  cores: 0\n", "'slurm.cores' must be a whole number of at least 1, got 0"),
        .bad(slurm + "slurm:\n  cores: two\n", "'slurm.cores' must be a whole number, got the text 'two'"),
        .bad(slurm + "slurm:\n  gpus: -1\n", "'slurm.gpus' must be a whole number of at least 0, got -1"),
        .bad(slurm + "slurm:\n  memory: lots\n", "'slurm.memory' is not a size: the text 'lots'"),
        .bad(slurm + "slurm:\n  walltime: soon\n", "'slurm.walltime' is not a duration: the text 'soon'"),
        .bad(
            slurm + "slurm:\n  sbatch: nice\n",
            "'slurm.sbatch' entries are sbatch options such as --constraint=avx2, got 'nice'"),
        .bad(
            slurm + "slurm:\n  poll_interval: 0s\n", "'slurm.poll_interval' must be longer than 0s, got the text '0s'"),
        .bad(
            slurm + "slurm:\n  submit_concurrency: 0\n",
            "'slurm.submit_concurrency' must be a whole number of at least 1, got 0"),
        .bad(
            slurm + "slurm:\n  command_timeout: forever\n",
            "'slurm.command_timeout' is not a duration: the text 'forever'"),
        .bad(slurm + "slurm:\n  accounting: maybe\n", "'slurm.accounting' must be true or false, got the text 'maybe'"),
        .bad(slurm + "slurm:\n  bin_dir: [/usr/bin]\n", "'slurm.bin_dir' must be text, got a list"),
        .bad(slurm + "slurm:\n  partition: 5\n", "'slurm.partition' must be text, got the number 5"),
        .bad(slurm + "slurm:\n  marker_wait: [1s]\n", "'slurm.marker_wait' must be a duration such as 30s"),
        .bad(slurm + "slurm:\n  container: 5\n", "'slurm.container' must be a mapping, got the number 5"),
        .bad(
            containerOnSlurm + "slurm:\n  container:\n    runtime: docker\n",
            "'slurm.container.runtime' cannot be 'docker'; accepted values: apptainer, singularity"),
        .bad(
            containerOnSlurm + "slurm:\n  container:\n    containall: maybe\n",
            "'slurm.container.containall' must be true or false, got the text 'maybe'"),
        .bad(
            containerOnSlurm + "slurm:\n  container:\n    image_dir: 5\n",
            "'slurm.container.image_dir' must be text, got the number 5"),
        // Unknown keys are the handler loader's, for check and serve alike.
        .bad(docker + "docker:\n  netwrk: none\n", "unknown key 'netwrk' in section 'docker' in handler 't'"),
    ]

    /// A checkout with `config/shunter.yaml` (`root: ..`) and one handler file.
    struct Checkout {
        let root = NSTemporaryDirectory() + "shunter-agreement-\(UUID().uuidString)"
        var config: String { root + "/config/shunter.yaml" }
        var handlerFile: String { root + "/handlers/10-t.yaml" }

        init(handler: String) throws {
            try FileManager.default.createDirectory(atPath: root + "/config", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: root + "/handlers", withIntermediateDirectories: true)
            try "root: ..\n".write(toFile: config, atomically: true, encoding: .utf8)
            try handler.write(toFile: handlerFile, atomically: true, encoding: .utf8)
        }

        /// What `shunter check` reports.
        func checkErrors() -> [String] {
            StartupValidation.check(configPath: config, currentDirectory: root, environment: [:]).errors.map(
                \.description)
        }

        /// What `shunter serve` refuses to start with: the validation before the store is
        /// locked, then the build of the running handlers.
        func serveErrors() -> [String] {
            let loaded = BrokerConfigLoader.resolve(explicitPath: config, currentDirectory: root, environment: [:])
            guard let config = loaded.config else { return loaded.errors.map(\.description) }
            do {
                let validated = try ShunterServices.validatedHandlers(config: config)
                _ = try HandlerRuntime.build(validated.handlers)
                return []
            } catch let errors as ConfigErrors {
                return errors.errors.map(\.description)
            } catch {
                return ["\(error)"]
            }
        }

        func remove() { try? FileManager.default.removeItem(atPath: root) }
    }

    @Test("check and serve give every handler file the same verdict and messages", arguments: cases)
    func sameVerdict(_ corpus: Case) throws {
        let checkout = try Checkout(handler: corpus.handler)
        defer { checkout.remove() }
        let checked = checkout.checkErrors()
        let served = checkout.serveErrors()
        #expect(checked == served, "check: \(checked)\nserve: \(served)")
        guard let refusal = corpus.refusal else {
            #expect(checked.isEmpty, "\(checked)")
            return
        }
        // The place of the value on the last line: its line, and the column after "key: " or "- ".
        let lines = corpus.handler.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        let last = try #require(lines.last)
        let valueStart = try #require(last.range(of: ": ")?.upperBound)
        let column = last.distance(from: last.startIndex, to: valueStart) + 1
        let place = "\(checkout.handlerFile):\(lines.count):\(column): "
        #expect(checked.count == 1, "\(checked)")
        let unknownKey = refusal.hasPrefix("unknown key")
        let expectedPlace = unknownKey ? "\(checkout.handlerFile):\(lines.count):3: " : place
        #expect(
            checked.first?.hasPrefix(expectedPlace + refusal) == true,
            "expected \(expectedPlace + refusal)\ngot \(checked)")
    }

    @Test("check builds the components without starting them: no warm interpreter, no file")
    func checkStartsNothing() throws {
        let checkout = try Checkout(handler: "")
        defer { checkout.remove() }
        // An "interpreter" that stays up as a warm parent and fails the usability probe at once.
        let interpreter = checkout.root + "/python"
        try "#!/bin/sh\ncase \"$2\" in import*) exit 1;; esac\nexec sleep 600\n"
            .write(toFile: interpreter, atomically: true, encoding: .utf8)
        chmod(interpreter, 0o755)
        try (Self.python + "python: {interpreter: \(interpreter), warm_start: broker-start}\n")
            .write(toFile: checkout.handlerFile, atomically: true, encoding: .utf8)
        func warmParents() -> [WarmParentStatus] {
            WarmParents.shared.status().filter { $0.interpreter == interpreter }
        }

        #expect(checkout.checkErrors().isEmpty)
        #expect(warmParents().isEmpty, "check started a warm interpreter")
        #expect(!FileManager.default.fileExists(atPath: checkout.root + "/var"), "check created the store")

        // The same handler built as serve builds it starts its warm interpreter: what check
        // left out is really done by the start.
        #expect(checkout.serveErrors().isEmpty)
        let started = warmParents()
        #expect(started.count == 1)
        // The fake never reads its control socket, so closing it (what ends a real warm
        // parent) does not: it is killed, or its `sleep` would hold the test run's output open.
        WarmParents.shared.stopAll()
        for parent in started { kill(parent.pid, SIGKILL) }
    }
}
