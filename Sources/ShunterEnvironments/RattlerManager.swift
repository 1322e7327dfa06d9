import Foundation

/// Builds real conda prefixes without any conda installation, with `py-rattler` (the Rust
/// conda library behind pixi, from PyPI) run by a Python that has it
/// (`scripts/setup-conda-tools.sh` makes `.venv-conda-tools`). Solves and installs from the
/// spec's channels like micromamba would; a `pip:` entry is installed by pip into the new
/// prefix's interpreter.
package struct RattlerManager: EnvironmentManager {
    package var name: String { "rattler" }
    package var kind: EnvironmentKind { .conda }
    /// The Python with `py-rattler`.
    package let python: String
    /// Where channel names (`conda-forge`) point.
    package let channelAlias: String

    package init(python: String, channelAlias: String) {
        self.python = python
        self.channelAlias = channelAlias
    }

    /// Exit codes of the creator script.
    static let unsolvable: Int32 = 2
    static let channelUnreadable: Int32 = 3

    package func unsuitability(for spec: EnvironmentSpec) async -> String? {
        let scratch = NSTemporaryDirectory() + "shunter-rattler-probe-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        do {
            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            let probe = ManagerCommand(
                workspace: scratch, logPath: scratch + "/log", environment: ProcessInfo.processInfo.environment,
                timeout: .seconds(60))
            let result = try await probe.run([python, "-c", "import rattler"])
            if result.succeeded { return nil }
            return
                "\(python) cannot import py-rattler (run scripts/setup-conda-tools.sh, or set environments.tools_python): "
                + (result.message.split(separator: "\n").last.map(String.init) ?? "")
        } catch {
            return "\(python) cannot be started: \(error)"
        }
    }

    package func create(_ spec: EnvironmentSpec, prefix: String, step: ManagerCommand) async throws {
        let script = step.workspace + "/" + RattlerCreateScript.fileName
        let specFile = step.workspace + "/spec.json"
        try Data(RattlerCreateScript.source.utf8).write(to: URL(fileURLWithPath: script))
        try Data(spec.creatorJSON(channelAlias: channelAlias, platform: Self.platform))
            .write(to: URL(fileURLWithPath: specFile))
        let result = try await step.run([python, script, specFile, prefix])
        switch result.exitCode {
        case 0: return
        case Self.unsolvable: throw EnvironmentBuildFailure("the spec cannot be solved:\n\(result.message)")
        case Self.channelUnreadable: throw EnvironmentBuildFailure("a channel cannot be read:\n\(result.message)")
        default: throw EnvironmentBuildFailure("py-rattler could not create the environment:\n\(result.message)")
        }
    }

    /// This machine's conda platform (`linux-64`, `linux-aarch64`, `osx-arm64`, ...).
    package static var platform: String {
        var info = utsname()
        uname(&info)
        let machine = withUnsafeBytes(of: &info.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        #if os(macOS)
            return machine == "arm64" ? "osx-arm64" : "osx-64"
        #else
            switch machine {
            case "x86_64": return "linux-64"
            case "aarch64", "arm64": return "linux-aarch64"
            case "ppc64le": return "linux-ppc64le"
            default: return "linux-\(machine)"
            }
        #endif
    }
}
