import Foundation
import ShunterBackends

/// Where the handler's own interpreter finds Seamless: its site-packages and its Python
/// version. A job in a conda environment runs with the environment's interpreter, which
/// usually lacks Seamless; the runner then borrows these (see `PythonRunnerScript`), so that
/// the environment needs nothing Shunter-specific and the result is computed by the same
/// Seamless code as in the default environment.
actor SeamlessSitePackages {
    static let shared = SeamlessSitePackages()

    struct Found: Sendable {
        /// `3.11`
        var pythonVersion: String
        var paths: [String]

        /// The variables the runner reads.
        var variables: [String: String] {
            ["SHUNTER_SEAMLESS_PATH": paths.joined(separator: ":"), "SHUNTER_SEAMLESS_PYTHON": pythonVersion]
        }
    }

    private var probes: [String: Task<Found?, Never>] = [:]

    /// Probed once per interpreter (it starts a Python process) and remembered; nil when that
    /// interpreter has no Seamless either.
    func find(interpreter: String, environment: [String: String]) async -> Found? {
        if let probe = probes[interpreter] { return await probe.value }
        let probe = Task { await Self.probe(interpreter: interpreter, environment: environment) }
        probes[interpreter] = probe
        return await probe.value
    }

    private static let program = """
        import os, sys, seamless, seamless_transformer
        print("%d.%d" % sys.version_info[:2])
        print(os.pathsep.join(p for p in sys.path if p.endswith(("site-packages", "dist-packages"))))
        """

    private static func probe(interpreter: String, environment: [String: String]) async -> Found? {
        guard
            let run = try? await PythonInterpreter.probe(
                interpreter, ["-c", program], environment: environment, timeout: .seconds(60)),
            run.outcome.succeeded
        else { return nil }
        let lines = run.stdout.split(separator: "\n").map(String.init)
        guard lines.count == 2 else { return nil }
        return Found(pythonVersion: lines[0], paths: lines[1].split(separator: ":").map(String.init))
    }
}
