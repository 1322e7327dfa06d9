import Foundation

/// Builds a Python virtual environment with pip, for specs whose packages all come from PyPI:
/// `dependencies` holds nothing but `python` (optionally with a version) and `pip`, and the
/// packages are in the `pip:` entry. Fast, and needs no conda at all.
package struct VenvManager: EnvironmentManager {
    package var name: String { "venv" }
    package var kind: EnvironmentKind { .venv }
    /// Where `python3` / `python3.X` are looked up.
    package let searchPath: String?

    package init(searchPath: String?) { self.searchPath = searchPath }

    package func unsuitability(for spec: EnvironmentSpec) async -> String? {
        let conda = spec.dependencies.filter { !["python", "pip"].contains(EnvironmentSpec.packageName($0)) }
        if !conda.isEmpty {
            return "venv builds pip-only specs; this one needs conda packages (\(conda.joined(separator: ", "))); "
                + "list them under '- pip:' to use venv"
        }
        do {
            let python = try interpreter(for: spec)
            guard ExecutableSearch.find(python, in: searchPath) != nil else { return "\(python) is not on PATH" }
        } catch {
            return error.message
        }
        return nil
    }

    /// `python3`, or `python3.X` when the spec pins the version (`python=3.11`, `python 3.11.*`,
    /// `python==3.11.7`): a venv can only use an interpreter the machine has.
    func interpreter(for spec: EnvironmentSpec) throws(EnvironmentBuildFailure) -> String {
        guard let python = spec.dependencies.first(where: { EnvironmentSpec.packageName($0) == "python" }) else {
            return "python3"
        }
        let constraint = python.dropFirst("python".count).trimmingCharacters(in: CharacterSet(charactersIn: " =*"))
        if constraint.isEmpty { return "python3" }
        let parts = constraint.split(separator: ".")
        guard parts.count >= 2, parts.allSatisfy({ $0.allSatisfy(\.isNumber) || $0 == "*" }),
            !parts[0].contains("*"), !parts[1].contains("*")
        else {
            throw EnvironmentBuildFailure(
                "venv needs the Python version as X.Y (python=3.11), not '\(python)'")
        }
        return "python\(parts[0]).\(parts[1])"
    }

    package func create(_ spec: EnvironmentSpec, prefix: String, step: ManagerCommand) async throws {
        let python = try interpreter(for: spec)
        let created = try await step.run([python, "-m", "venv", prefix])
        guard created.succeeded else {
            throw EnvironmentBuildFailure("\(python) -m venv failed:\n\(created.message)")
        }
        guard !spec.pip.isEmpty else { return }
        let installed = try await step.run(
            [prefix + "/bin/python", "-m", "pip", "install", "--no-input", "--disable-pip-version-check"] + spec.pip,
            extraEnvironment: ["PIP_NO_INPUT": "1"])
        guard installed.succeeded else {
            throw EnvironmentBuildFailure("pip could not install the environment's packages:\n\(installed.message)")
        }
    }
}
