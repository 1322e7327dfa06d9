import Crypto
import Foundation
import ShunterCore
import ShunterHandlers

/// A software environment as an `environment.yml` describes it, normalised so that two specs
/// asking for the same thing have the same `identity`.
///
/// The identity names the built environment on disk: a spec whose content changes gets a new
/// identity and so a new environment, never the old one reused under the same name. What does
/// not change what gets installed does not change the identity: the `name`, comments and
/// layout of the YAML, the order of `dependencies` and of `pip` entries (a solver and pip take
/// them as a set), spacing inside a match spec. Channel order does count: it is priority.
package struct EnvironmentSpec: Sendable, Hashable {
    /// `name:` of the spec, else the file's stem; nil for an inline spec without one.
    package var name: String?
    package var channels: [String]
    /// Conda match specs (`python 3.11.*`, `numpy>=1.26`, `numpy=1.26`), sorted.
    package var dependencies: [String]
    /// Requirements from the `pip:` entry of `dependencies`, sorted.
    package var pip: [String]
    /// `variables:`: set in every job that runs in the environment.
    package var variables: [String: String]
    /// Where it was written: a file, or `__env__.conda` of a transformation.
    package var origin: String

    package init(
        name: String?, channels: [String], dependencies: [String], pip: [String] = [],
        variables: [String: String] = [:], origin: String
    ) {
        self.name = name
        self.channels = channels
        self.dependencies = Array(Set(dependencies.map(Self.normalise))).sorted()
        self.pip = Array(Set(pip.map(Self.normalise))).sorted()
        self.variables = variables
        self.origin = origin
    }

    /// SHA-256 of the normalised spec as canonical JSON: 64 hex digits.
    package var identity: String {
        var object: [String: JSONValue] = [
            "channels": .array(channels.map { .string($0) }),
            "dependencies": .array(dependencies.map { .string($0) }),
        ]
        if !pip.isEmpty { object["pip"] = .array(pip.map { .string($0) }) }
        if !variables.isEmpty { object["variables"] = .object(variables.mapValues { .string($0) }) }
        let digest = SHA256.hash(data: CanonicalJSON.encode(.object(object)))
        return digest.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// The first 16 hex digits of the identity: the environment's directory name.
    package var shortIdentity: String { String(identity.prefix(16)) }

    /// How logs and messages call the environment: its name, or `inline-<identity>`.
    package var label: String { name ?? "inline-\(identity.prefix(12))" }

    /// The conda package names the spec asks for (`numpy>=1.26` → `numpy`).
    package var packageNames: [String] { dependencies.map(Self.packageName) }

    /// The spec as environment.yml text (what conda, mamba and micromamba read).
    package var environmentYAML: String {
        var text = "name: \(Self.yamlQuoted(name ?? "shunter-\(shortIdentity)"))\n"
        if !channels.isEmpty {
            text += "channels:\n" + channels.map { "  - \(Self.yamlQuoted($0))\n" }.joined()
        }
        text += "dependencies:\n" + dependencies.map { "  - \(Self.yamlQuoted($0))\n" }.joined()
        if !pip.isEmpty {
            text += "  - pip:\n" + pip.map { "      - \(Self.yamlQuoted($0))\n" }.joined()
        }
        if !variables.isEmpty {
            text +=
                "variables:\n"
                + variables.keys.sorted().map { "  \($0): \(Self.yamlQuoted(variables[$0]!))\n" }.joined()
        }
        return text
    }

    /// The spec as JSON for the py-rattler creator script.
    func creatorJSON(channelAlias: String, platform: String) -> [UInt8] {
        CanonicalJSON.encode(
            .object([
                "channels": .array(channels.map { .string($0) }),
                "dependencies": .array(dependencies.map { .string($0) }),
                "pip": .array(pip.map { .string($0) }),
                "channel_alias": .string(channelAlias),
                "platform": .string(platform),
            ]))
    }

    // MARK: - Normalising

    /// Collapses runs of white space to one space and lowercases the package name, which conda
    /// compares case-insensitively: `NumPy  >=1.2` → `numpy >=1.2`.
    static func normalise(_ spec: String) -> String {
        let words = spec.split(whereSeparator: { $0 == " " || $0 == "\t" })
        var text = words.joined(separator: " ")
        let name = packageName(text)
        if !name.isEmpty, !text.contains("::"), !text.contains("/"), !text.hasPrefix("-") {
            text = name.lowercased() + text.dropFirst(name.count)
        }
        return text
    }

    /// The package name at the start of a match spec (or pip requirement).
    static func packageName(_ spec: String) -> String {
        String(spec.prefix { $0.isLetter || $0.isNumber || "-_.".contains($0) })
    }

    private static func yamlQuoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
